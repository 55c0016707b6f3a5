import Glibc
import OpenClawConfig

/// Where a client reaches an installed gateway, and the secret it presents.
public struct GatewayEndpoint: Sendable, Equatable {
    public var url: String
    public var token: String?
    public var password: String?
    public var configPath: String
}

extension GatewayService {
    /// The installed gateway as the RPC commands' `--system` reaches it: the
    /// socket unit's address (as `status` probes it) and the secret the unit
    /// hands the daemon: the token file (its `LoadCredential=`, `target.tokenFile`), which beats
    /// the config and the environment there too.
    ///
    /// `url`/`token` are the caller's overrides. Without `token`, the install's
    /// files must be readable; for anyone but root and the `User=` account they
    /// are not (0600 in a 0700 state dir), which is said in one sentence.
    public func endpoint(url: String? = nil, token: String? = nil) throws(ServiceError) -> GatewayEndpoint {
        try requireInstalled()
        let settings: GatewaySettings
        let fileSecret: String?
        do {
            settings = try self.settings()
            fileSecret = try readCredential(target.tokenFile)
        } catch {
            guard let unreadable = [target.paths.configPath, target.tokenFile].first(where: Self.isDenied)
            else { throw error }
            guard let token else {
                throw .config(ConfigError(
                    "you may not read \(unreadable) (the \(target.kind.rawValue) gateway's files belong to "
                        + "\(target.userName), the account it runs as): run the command with sudo, or pass the "
                        + "gateway's token with --token"))
            }
            return GatewayEndpoint(url: url ?? installedProbeURL(GatewaySettings(paths: target.paths)),
                                   token: token, password: nil, configPath: target.paths.configPath)
        }
        var (fileToken, filePassword) = (settings.token, settings.password)
        if let fileSecret {
            // The credential carries whichever secret the configured mode checks (as in the daemon).
            if settings.auth == .password { filePassword = fileSecret } else { fileToken = fileSecret }
        }
        return GatewayEndpoint(url: url ?? installedProbeURL(settings), token: token ?? fileToken,
                               password: filePassword, configPath: target.paths.configPath)
    }

    private static func isDenied(_ path: String) -> Bool {
        access(path, R_OK) != 0 && errno == EACCES
    }
}
