import NetIO
import OpenClawConfig

/// Who may open a WebSocket, judged from the upgrade request's `Host` and
/// `Origin` before any frame is read.
///
/// - `Host` must name loopback, the address the client actually connected to,
///   this machine's hostname, or a name in `gateway.allowedHosts`: a web page
///   whose DNS name was rebound to 127.0.0.1 still sends its own name and is
///   refused (DNS rebinding).
/// - `Origin` is sent by browsers, not by the CLI or other native clients; a
///   request without one is not a web page. With one, it must be the gateway's
///   own origin (same scheme-less authority as an accepted `Host`) or be listed
///   in `gateway.allowedOrigins`, so a page on another site cannot drive the
///   gateway with the visitor's network position (cross-site WebSocket hijacking).
struct OriginPolicy {
    let allowedOrigins: Set<String>
    let allowedHosts: Set<String>
    let hostname: String

    init(settings: GatewaySettings, hostname: String) {
        allowedOrigins = Set(settings.allowedOrigins.map { Self.normalizedOrigin($0) })
        allowedHosts = Set(settings.allowedHosts.map { $0.lowercased() })
        self.hostname = hostname.lowercased()
    }

    /// Nil when the upgrade may proceed, else the reason it is refused (sent back with 403).
    func refusal(host: String?, origin: String?, local: SocketAddress?) -> String? {
        guard let host, let name = Self.hostName(host) else {
            return "missing or malformed Host header"
        }
        guard isAcceptedHost(name, local: local) else {
            return "Host \(host) is not this gateway (add it to gateway.allowedHosts to allow it)"
        }
        guard let origin else { return nil }
        let normalized = Self.normalizedOrigin(origin)
        if allowedOrigins.contains(normalized) || allowedOrigins.contains("*") { return nil }
        for scheme in ["http://", "https://"] where normalized == scheme + host.lowercased() {
            return nil
        }
        return "Origin \(origin) is not allowed (add it to gateway.allowedOrigins to allow it)"
    }

    private func isAcceptedHost(_ name: String, local: SocketAddress?) -> Bool {
        if GatewaySettings.isLoopback(name) || name == hostname || allowedHosts.contains(name) || allowedHosts.contains("*") {
            return true
        }
        guard let local else { return false }
        return name == Self.unmapped(local.host.lowercased())
    }

    /// The host part of a `Host` header ("[::1]:18789" → "::1"), lowercased; nil when malformed.
    static func hostName(_ header: String) -> String? {
        let h = header.lowercased()
        if h.hasPrefix("[") {
            guard let close = h.firstIndex(of: "]") else { return nil }
            let rest = h[h.index(after: close)...]
            guard rest.isEmpty || rest.hasPrefix(":") else { return nil }
            return unmapped(String(h[h.index(after: h.startIndex)..<close]))
        }
        let name = h.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init) ?? ""
        return name.isEmpty ? nil : name
    }

    /// "::ffff:127.0.0.1" (an IPv4 client on a dual-stack socket) → "127.0.0.1".
    private static func unmapped(_ host: String) -> String {
        host.hasPrefix("::ffff:") && host.contains(".") ? String(host.dropFirst(7)) : host
    }

    /// Origins compare case-insensitively and without a trailing slash.
    static func normalizedOrigin(_ origin: String) -> String {
        let o = origin.lowercased()
        return o.hasSuffix("/") ? String(o.dropLast()) : o
    }
}
