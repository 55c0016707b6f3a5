import OpenClawConfig

/// The gateway an RPC command talks to, and the secret it presents.
///
/// Resolved from the same config and profile the daemon reads, so `--profile
/// work` reaches the `work` gateway's port with the `work` token (G1).
struct GatewayTarget: Equatable {
    let url: String
    let token: String?
    let password: String?
    let configPath: String

    /// `--url` beats `OPENCLAW_GATEWAY_URL` beats the config's bind and port.
    static func resolve(profile: String?, override: RPCTarget, environment: [String: String])
        throws(ConfigError) -> GatewayTarget
    {
        let paths = try OpenClawPaths.resolve(profile: profile, environment: environment)
        let settings = try ConfigLoader.load(paths: paths, environment: environment)
        let url = override.url
            ?? environment["OPENCLAW_GATEWAY_URL"].flatMap { $0.isEmpty ? nil : $0 }
            ?? settings.clientURL
        return GatewayTarget(
            url: url, token: override.token ?? settings.token, password: settings.password,
            configPath: paths.configPath)
    }
}
