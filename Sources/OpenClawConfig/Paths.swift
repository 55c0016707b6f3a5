/// Where one profile's state lives, and the names derived from it.
///
/// Every command and the daemon resolve paths the same way, so a profile
/// (`--profile NAME` / `OPENCLAW_PROFILE`) isolates config, state, token, port
/// and unit name (S10, G1).
public struct OpenClawPaths: Sendable, Equatable {
    /// nil for the default profile.
    public let profile: String?
    public let stateDir: String
    public let configPath: String

    public init(profile: String?, stateDir: String, configPath: String) {
        self.profile = profile
        self.stateDir = stateDir
        self.configPath = configPath
    }

    /// Token file the installer writes (0600) and the unit loads as the `gateway-token` credential.
    public var tokenFile: String { stateDir + "/gateway.token" }
    /// API keys for the agent backend (`NAME=value` lines, 0600): never in a unit or openclaw.json.
    public var agentSecretsFile: String { stateDir + "/agent.env" }
    /// "default" or the profile name, for people and log fields.
    public var profileLabel: String { profile ?? "default" }
    /// Unit base name, without `.service`/`.socket`.
    public var unitName: String { profile.map { "openclaw-gateway-\($0)" } ?? "openclaw-gateway" }

    /// Profile from the flag, else `OPENCLAW_PROFILE`; state dir `~/.openclaw[-NAME]` unless
    /// `OPENCLAW_STATE_DIR`; config `<state dir>/openclaw.json` unless `OPENCLAW_CONFIG_PATH`.
    public static func resolve(profile flag: String?, environment: [String: String]) throws(ConfigError) -> OpenClawPaths {
        let raw = flag ?? environment["OPENCLAW_PROFILE"]
        let profile = (raw == nil || raw == "" || raw == "default") ? nil : raw
        if let profile, !isValidProfileName(profile) {
            throw ConfigError("invalid profile name \"\(profile)\": use 1–32 characters a-z, 0-9, '-' or '_'")
        }
        let stateDir: String
        if let dir = environment["OPENCLAW_STATE_DIR"], !dir.isEmpty {
            stateDir = dir
        } else {
            guard let home = environment["HOME"], !home.isEmpty else {
                throw ConfigError("HOME is not set: set OPENCLAW_STATE_DIR to choose the state directory")
            }
            stateDir = home + "/.openclaw" + (profile.map { "-\($0)" } ?? "")
        }
        let configPath = environment["OPENCLAW_CONFIG_PATH"].flatMap { $0.isEmpty ? nil : $0 }
            ?? stateDir + "/openclaw.json"
        return OpenClawPaths(profile: profile, stateDir: stateDir, configPath: configPath)
    }

    public static func isValidProfileName(_ name: String) -> Bool {
        let bytes = Array(name.utf8)
        guard (1...32).contains(bytes.count) else { return false }
        return bytes.allSatisfy { b in
            (b >= 0x61 && b <= 0x7A) || (b >= 0x30 && b <= 0x39) || b == 0x2D || b == 0x5F
        }
    }
}

/// A configuration problem a person can act on; the message names the file and line when there is one.
public struct ConfigError: Error, Sendable, CustomStringConvertible, Equatable {
    public let message: String
    /// Where a syntax error is, when it is one: the gateway logs them as journal fields
    /// (OPENCLAW_CONFIG_PATH, _LINE, _COLUMN) so an operator can filter on them.
    public var path: String?
    public var line: Int?
    public var column: Int?

    public init(_ message: String, path: String? = nil, line: Int? = nil, column: Int? = nil) {
        self.message = message
        self.path = path
        self.line = line
        self.column = column
    }

    public var description: String { message }
}
