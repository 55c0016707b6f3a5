import Glibc
import OpenClawConfig
import SystemdKit

/// What `openclaw gateway token rotate` did.
public struct TokenRotation: Sendable {
    public var tokenFile: String
    /// The restarted gateway answered hello-ok with the new token here.
    public var url: String
    /// The config file also sets `gateway.auth.token`/`password`: the gateway uses the token
    /// file (its credential wins), but clients reading the config get the old secret.
    public var configStillHasSecret: Bool
}

extension GatewayService {
    /// Writes a new random token (0600, owned by the gateway's account), restarts the service
    /// so that `LoadCredential=` hands it over, and proves it with a hello-ok that uses it.
    /// The old token stops working with the restart; nothing else holds a copy of it.
    public func rotateToken(timeoutMs: Int = 30_000) throws(ServiceError) -> TokenRotation {
        try requireInstalled()
        let token = try Self.generateToken()
        // As the service user (UserFiles), like install's token write: no symlink leads root elsewhere.
        try UserFiles(target).access { () throws(ServiceError) in
            try FileIO.makeDirectories(target.paths.stateDir, mode: 0o700)
            try FileIO.writeAtomically(target.paths.tokenFile, Array((token + "\n").utf8), mode: 0o600)
        }
        _ = try restart(timeoutMs: timeoutMs, verify: false)
        var settings = (try? settings()) ?? GatewaySettings(paths: target.paths)
        let configStillHasSecret = settings.secretSource == "config"
        settings.auth = .token
        settings.token = token
        settings.password = nil
        let url = installedProbeURL(settings)
        let deadline = monotonicMs() + timeoutMs
        while true {
            let answer = probe(settings, url: url, timeoutMs: 2_000)
            if answer.ok {
                return TokenRotation(tokenFile: target.paths.tokenFile, url: url,
                                     configStillHasSecret: configStillHasSecret)
            }
            if monotonicMs() >= deadline {
                throw .notReady(url: url, error: "with the new token: " + (answer.error ?? "no answer"))
            }
            usleep(100_000)
        }
    }
}
