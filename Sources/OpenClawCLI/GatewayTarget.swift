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

    /// `--url` beats `OPENCLAW_GATEWAY_URL` beats the config's bind and port. `present` swaps in
    /// the secret the installed gateway checks (its credential file, see ServiceManager's
    /// SecretSource); `--token` beats everything. The local secret never goes to a
    /// non-loopback address named by `--url`/`OPENCLAW_GATEWAY_URL`: there, only `--token` is sent.
    static func resolve(profile: String?, override: RPCTarget, environment: [String: String],
                        present: (GatewaySettings) -> GatewaySettings = { $0 }) throws(ConfigError) -> GatewayTarget
    {
        let paths = try OpenClawPaths.resolve(profile: profile, environment: environment)
        let explicit = override.url ?? environment["OPENCLAW_GATEWAY_URL"].flatMap { $0.isEmpty ? nil : $0 }
        if let explicit, !isLoopbackURL(explicit) {
            return GatewayTarget(url: explicit, token: override.token, password: nil, configPath: paths.configPath)
        }
        let settings = override.token == nil ? present(try ConfigLoader.load(paths: paths, environment: environment))
            : try ConfigLoader.load(paths: paths, environment: environment)
        return GatewayTarget(
            url: explicit ?? settings.clientURL, token: override.token ?? settings.token, password: settings.password,
            configPath: paths.configPath)
    }

    /// "ws://127.0.0.1:18789", "ws://[::1]:1/x", "ws://localhost" → true.
    static func isLoopbackURL(_ url: String) -> Bool {
        var rest = Substring(url.hasPrefix("ws://") ? String(url.dropFirst(5)) : url)
        rest = rest.prefix { $0 != "/" }
        let host: Substring
        if rest.hasPrefix("[") {
            host = rest.dropFirst().prefix { $0 != "]" }
        } else {
            host = rest.prefix { $0 != ":" }
        }
        return GatewaySettings.isLoopback(String(host))
    }
}
