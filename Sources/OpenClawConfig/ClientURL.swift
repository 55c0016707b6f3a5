import Glibc

extension GatewaySettings {
    /// The URL a local client (CLI, probe) uses for this gateway.
    public var clientURL: String { Self.clientURL(bind: bind, port: port) }

    /// A wildcard bind is reached through loopback; IPv6 literals get brackets.
    public static func clientURL(bind: String, port: Int) -> String {
        let host: String
        switch bind {
        case "0.0.0.0", "": host = "127.0.0.1"
        case "::", "[::]": host = "[::1]"
        default: host = bind.contains(":") && !bind.hasPrefix("[") ? "[\(bind)]" : bind
        }
        return "ws://\(host):\(port)"
    }
}

/// The process environment as a dictionary, read from `environ` (no Foundation).
public enum ProcessEnvironment {
    public static func current() -> [String: String] {
        var env: [String: String] = [:]
        var p = environ
        while let entry = p.pointee {
            let s = String(cString: entry)
            if let eq = s.firstIndex(of: "=") {
                env[String(s[..<eq])] = String(s[s.index(after: eq)...])
            }
            p += 1
        }
        return env
    }
}
