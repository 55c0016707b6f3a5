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
    /// Writes a new random token into the token file (0600; a user unit's belongs to the user, a
    /// system unit's to root in /etc/credstore), restarts the service
    /// so that `LoadCredential=` hands it over, and proves it with a hello-ok that uses it.
    /// The old token stops working with the restart; nothing else holds a copy of it.
    public func rotateToken(timeoutMs: Int = 30_000) throws(ServiceError) -> TokenRotation {
        try requireInstalled()
        let token = try Self.generateToken()
        // Where install writes it: as the user in a user unit's state dir, as root in /etc/credstore.
        try storeToken(token)
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
                return TokenRotation(tokenFile: target.tokenFile, url: url,
                                     configStillHasSecret: configStillHasSecret)
            }
            if monotonicMs() >= deadline {
                throw .notReady(url: url, error: "with the new token: " + (answer.error ?? "no answer"))
            }
            usleep(100_000)
        }
    }
}
