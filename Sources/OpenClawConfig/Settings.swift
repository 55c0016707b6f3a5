import Glibc
import JSONCore

public enum AuthMode: String, Sendable {
    case token, password, none
}

/// Who may read `GET /metrics` (`gateway.metrics`): loopback peers only (the default),
/// any peer that can reach the port, or nobody.
public enum MetricsAccess: String, Sendable {
    case loopback, any, off
}

/// The gateway's effective settings: embedded defaults, then `openclaw.json`,
/// then environment, then flags.
public struct GatewaySettings: Sendable {
    public var paths: OpenClawPaths
    public var port: Int = 18789
    public var bind: String = "127.0.0.1"
    public var auth: AuthMode = .token
    /// True when `gateway.auth.mode` is set in the config (not the default).
    public var authModeConfigured = false
    public var token: String?
    public var password: String?
    /// Where the secret came from: "credential", "env", "config", "token-file"; nil when none.
    public var secretSource: String?
    public var tickIntervalMs: Int = 30_000
    public var handshakeTimeoutMs: Int = 10_000
    public var maxPayload: Int = 1 << 20
    public var maxBufferedBytes: Int = 4 << 20
    /// Unsent output of all clients together above which lagging clients are dropped.
    public var outputBudgetBytes: Int = 256 << 20
    /// Connections not yet past hello-ok; beyond this the oldest of them is closed.
    public var maxPendingConnections: Int = 256
    /// Failed auth attempts allowed per peer address per minute before refusals are throttled.
    public var authFailuresPerMinute: Int = 10
    public var metricsAccess: MetricsAccess = .loopback
    /// Shutdown drain bound; kept well below the unit's TimeoutStopSec.
    public var shutdownDrainMs: Int = 2_000
    /// `channels` object of the config file (each channel reads its own part).
    public var channels: JSONValue = .null
    /// `agent` object of the config file.
    public var agent: JSONValue = .null
    public var configFileExists = false
    /// Browser origins (`Origin` header) allowed to open a WebSocket besides the
    /// gateway's own; "*" allows any. Native clients send no `Origin`.
    public var allowedOrigins: [String] = []
    /// Names a client may put in `Host` besides loopback, the address it connected
    /// to and this machine's hostname (a reverse proxy's name, say); "*" allows any.
    public var allowedHosts: [String] = []

    public init(paths: OpenClawPaths) { self.paths = paths }

    /// True for 127.0.0.0/8, ::1 and "localhost".
    public var isLoopbackBind: Bool { Self.isLoopback(bind) }

    /// Only literal addresses count: a DNS name such as "127.0.0.1.example.com" is
    /// not loopback (it matters where a client-sent `Host` is judged).
    public static func isLoopback(_ host: String) -> Bool {
        if host == "localhost" || host == "::1" { return true }
        let octets = host.split(separator: ".", omittingEmptySubsequences: false)
        return octets.count == 4 && octets[0] == "127"
            && octets.allSatisfy { $0.count <= 3 && UInt8($0) != nil && $0.utf8.allSatisfy { (48...57).contains($0) } }
    }

    /// The secret this mode checks, if any.
    public var secret: String? {
        switch auth {
        case .token: token
        case .password: password
        case .none: nil
        }
    }

    /// The daemon's start-up check: a mode the config asks for explicitly must have
    /// its secret, or the gateway would quietly serve everyone without auth.
    public func requireConfiguredSecret() throws(ConfigError) {
        guard authModeConfigured, auth != .none, secret == nil else { return }
        let (variable, field) = auth == .password
            ? ("OPENCLAW_GATEWAY_PASSWORD", "gateway.auth.password")
            : ("OPENCLAW_GATEWAY_TOKEN", "gateway.auth.token")
        throw ConfigError("gateway.auth.mode is \"\(auth.rawValue)\" in \(paths.configPath) but no \(auth.rawValue) is set: "
            + "set \(variable) or \(field)"
            + (auth == .token ? ", or write it to \(paths.tokenFile)" : "")
            + " (or set gateway.auth.mode to \"none\" for a loopback-only gateway without auth)")
    }
}

/// Reads `openclaw.json` and the environment into `GatewaySettings`.
public enum ConfigLoader {
    /// Reads and parses the config file; nil when it does not exist.
    public static func readConfigFile(_ path: String) throws(ConfigError) -> JSONValue? {
        guard let bytes = try readFile(path) else { return nil }
        return try parseConfig(bytes, source: path)
    }

    /// The bytes of a config file as its top-level object; errors name `source`, line and column.
    public static func parseConfig(_ bytes: [UInt8], source: String) throws(ConfigError) -> JSONValue {
        let value: JSONValue
        do {
            value = try JSONValue.parse(bytes)
        } catch {
            throw ConfigError("\(source) line \(error.line), column \(error.column): \(error.message)", path: source,
                              line: error.line, column: error.column)
        }
        guard case .object = value else {
            throw ConfigError("\(source): the top level must be a JSON object")
        }
        return value
    }

    /// Defaults < config file < environment < flags. The secret is taken from, in
    /// order: the systemd credential `gateway-token`, `OPENCLAW_GATEWAY_TOKEN` /
    /// `OPENCLAW_GATEWAY_PASSWORD`, the config file, the state dir's token file.
    public static func load(paths: OpenClawPaths, environment: [String: String], port: Int? = nil,
                            bind: String? = nil) throws(ConfigError) -> GatewaySettings {
        var settings = GatewaySettings(paths: paths)
        let file = try readConfigFile(paths.configPath)
        settings.configFileExists = file != nil
        try apply(file ?? .null, source: paths.configPath, to: &settings)

        if let v = environment["OPENCLAW_GATEWAY_PORT"], !v.isEmpty {
            guard let p = Int(v), (1...65535).contains(p) else {
                throw ConfigError("OPENCLAW_GATEWAY_PORT=\(v) is not a port number (1–65535)")
            }
            settings.port = p
        }
        if let port { settings.port = port }
        if let bind { settings.bind = try bindValue(.string(bind), "--bind") }

        try resolveSecret(&settings, file: file?["gateway"]?["auth"] ?? .null, environment: environment)
        return settings
    }

    /// The config file's settings over `settings` (no I/O, no environment): what
    /// `load` does with a parsed file, and what Fuzz/ConfigFuzz.swift drives.
    /// Every refusal names `source` and the field.
    public static func apply(_ file: JSONValue, source where_: String, to settings: inout GatewaySettings) throws(ConfigError) {
        let gateway = file["gateway"] ?? .null
        if let v = gateway["port"] { settings.port = try portValue(v, "\(where_): gateway.port") }
        if let v = gateway["bind"] { settings.bind = try bindValue(v, "\(where_): gateway.bind") }
        if let v = gateway["tickIntervalMs"] { settings.tickIntervalMs = try intValue(v, 50...3_600_000, "\(where_): gateway.tickIntervalMs") }
        if let v = gateway["handshakeTimeoutMs"] { settings.handshakeTimeoutMs = try intValue(v, 100...600_000, "\(where_): gateway.handshakeTimeoutMs") }
        if let v = gateway["maxPayload"] { settings.maxPayload = try intValue(v, 1024...(64 << 20), "\(where_): gateway.maxPayload") }
        if let v = gateway["maxBufferedBytes"] { settings.maxBufferedBytes = try intValue(v, 4096...(1 << 30), "\(where_): gateway.maxBufferedBytes") }
        if let v = gateway["outputBudgetBytes"] { settings.outputBudgetBytes = try intValue(v, (1 << 20)...(1 << 40), "\(where_): gateway.outputBudgetBytes") }
        if let v = gateway["maxPendingConnections"] { settings.maxPendingConnections = try intValue(v, 1...1_000_000, "\(where_): gateway.maxPendingConnections") }
        if let v = gateway["shutdownDrainMs"] { settings.shutdownDrainMs = try intValue(v, 0...60_000, "\(where_): gateway.shutdownDrainMs") }
        if let v = gateway["authFailuresPerMinute"] { settings.authFailuresPerMinute = try intValue(v, 1...10_000, "\(where_): gateway.authFailuresPerMinute") }
        if let v = gateway["allowedOrigins"] { settings.allowedOrigins = try stringList(v, "\(where_): gateway.allowedOrigins") }
        if let v = gateway["allowedHosts"] { settings.allowedHosts = try stringList(v, "\(where_): gateway.allowedHosts") }
        if let v = gateway["metrics"] {
            guard let s = v.stringValue, let access = MetricsAccess(rawValue: s) else {
                throw ConfigError("\(where_): gateway.metrics must be \"loopback\", \"any\" or \"off\"")
            }
            settings.metricsAccess = access
        }
        if let v = gateway["auth"]?["mode"] {
            guard let s = v.stringValue, let mode = AuthMode(rawValue: s) else {
                throw ConfigError("\(where_): gateway.auth.mode must be \"token\", \"password\" or \"none\"")
            }
            settings.auth = mode
            settings.authModeConfigured = true
        }
        settings.channels = file["channels"] ?? .null
        settings.agent = file["agent"] ?? .null
    }

    /// Each kind of secret is looked up in every source on its own, so a variable of
    /// the other kind (a token variable in password mode) never hides the one the mode
    /// checks. Per kind, the first source that has it wins: the systemd credential
    /// (which carries the configured mode's secret), the environment, the config file,
    /// and in token mode the state dir's token file. `secretSource` names where the
    /// configured mode's secret came from.
    private static func resolveSecret(_ s: inout GatewaySettings, file auth: JSONValue,
                                      environment: [String: String]) throws(ConfigError) {
        var credential: String?
        if let dir = environment["CREDENTIALS_DIRECTORY"], !dir.isEmpty, let bytes = try readFile(dir + "/gateway-token") {
            credential = trimmed(bytes)
        }
        func lookUp(_ kind: AuthMode, variable: String, field: String) throws(ConfigError) -> (String, String)? {
            if kind == s.auth || (s.auth == .none && kind == .token), let credential { return (credential, "credential") }
            if let v = environment[variable], !v.isEmpty { return (v, "env") }
            if let v = auth[field]?.stringValue, !v.isEmpty { return (v, "config") }
            if kind == .token, s.auth == .token, let bytes = try readFile(s.paths.tokenFile), let t = trimmed(bytes) { return (t, "token-file") }
            return nil
        }
        let token = try lookUp(.token, variable: "OPENCLAW_GATEWAY_TOKEN", field: "token")
        let password = try lookUp(.password, variable: "OPENCLAW_GATEWAY_PASSWORD", field: "password")
        s.token = token?.0
        s.password = password?.0
        s.secretSource = s.auth == .password ? password?.1 : s.auth == .token ? token?.1 : nil
    }

    private static func trimmed(_ bytes: [UInt8]) -> String? {
        let s = String(decoding: bytes, as: UTF8.self)
        let t = s.split(whereSeparator: { $0 == "\n" || $0 == "\r" || $0 == " " || $0 == "\t" }).first.map(String.init)
        return (t?.isEmpty ?? true) ? nil : t
    }

    private static func stringList(_ v: JSONValue, _ name: String) throws(ConfigError) -> [String] {
        guard let items = v.arrayValue?.compactMap(\.stringValue), items.count == v.arrayValue?.count,
              !items.contains(where: \.isEmpty)
        else { throw ConfigError("\(name) must be a list of non-empty strings") }
        return items
    }

    private static func portValue(_ v: JSONValue, _ name: String) throws(ConfigError) -> Int {
        try intValue(v, 1...65535, name)
    }

    private static func intValue(_ v: JSONValue, _ range: ClosedRange<Int>, _ name: String) throws(ConfigError) -> Int {
        guard let i = v.intValue, range.contains(Int(i)) else {
            throw ConfigError("\(name) must be an integer in \(range.lowerBound)…\(range.upperBound)")
        }
        return Int(i)
    }

    /// "loopback" → 127.0.0.1, "lan"/"all" → 0.0.0.0, otherwise a literal address.
    private static func bindValue(_ v: JSONValue, _ name: String) throws(ConfigError) -> String {
        guard let s = v.stringValue, !s.isEmpty else { throw ConfigError("\(name) must be an address string") }
        switch s {
        case "loopback", "localhost": return "127.0.0.1"
        case "lan", "all": return "0.0.0.0"
        default: return s
        }
    }

    /// Whole file, or nil when it does not exist; other failures are errors naming the file.
    /// Only a regular file is read: opened non-blocking and checked with fstat, so a FIFO or
    /// device planted at the path is an error instead of a read that blocks the gateway's loop.
    public static func readFile(_ path: String) throws(ConfigError) -> [UInt8]? {
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY)
        if fd < 0 {
            if errno == ENOENT { return nil }
            throw ConfigError("cannot read \(path): \(String(cString: strerror(errno)))")
        }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw ConfigError("cannot read \(path): \(String(cString: strerror(errno)))") }
        guard st.st_mode & S_IFMT == S_IFREG else {
            throw ConfigError("\(path) is not a regular file (\(fileKind(st.st_mode))): replace it with a regular file")
        }
        var out: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 16 * 1024)
        while true {
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw ConfigError("cannot read \(path): \(String(cString: strerror(errno)))")
            }
            if n == 0 { break }
            out.append(contentsOf: chunk[0..<n])
            if out.count > 16 << 20 { throw ConfigError("\(path) is larger than 16 MiB") }
        }
        return out
    }

    private static func fileKind(_ mode: mode_t) -> String {
        switch mode & S_IFMT {
        case S_IFIFO: "a FIFO"
        case S_IFDIR: "a directory"
        case S_IFCHR: "a character device"
        case S_IFBLK: "a block device"
        case S_IFSOCK: "a socket"
        default: "not a regular file"
        }
    }
}
