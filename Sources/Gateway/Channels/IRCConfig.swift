import Glibc
import JSONCore
import OpenClawConfig

/// `channels.irc` of `openclaw.json`:
/// `{server, port?, tls?, nick, password?, username?, realname?, channels?:[…],
///   floodBurst?, floodIntervalMs?, reconnectMinMs?, reconnectMaxMs?, pingIntervalMs?, allowFrom?:[nick…]|"*"}`.
struct IRCConfig: Equatable {
    var server: String
    var port: Int
    var session: IRCSession.Config
    /// Lines that may go out back to back before pacing starts.
    var floodBurst: Int
    /// One more line per interval once the burst is spent (servers drop "Excess Flood" clients).
    var floodIntervalMs: Int64
    var reconnectMinMs: Int64
    var reconnectMaxMs: Int64
    /// Silence after which we PING the server; twice that without an answer drops the link.
    var pingIntervalMs: Int64
    /// Nicks (lowercased) whose messages may start agent turns; nil admits everyone (`"*"`).
    /// Empty by default: an assistant answers only the people it was told to.
    var allowFrom: [String]? = []

    static func parse(_ v: JSONValue) throws(ConfigError) -> IRCConfig {
        let at = "channels.irc"
        guard case .object = v else { throw ConfigError("\(at) must be an object") }
        if v["tls"]?.boolValue == true {
            throw ConfigError("\(at).tls: TLS is not supported by this gateway (it links no TLS library); "
                + "use a plaintext port on a trusted network or a local TLS tunnel such as stunnel, and set tls to false")
        }
        guard let server = v["server"]?.stringValue, !server.isEmpty else {
            throw ConfigError("\(at).server must be a host name or address")
        }
        guard let nick = v["nick"]?.stringValue, isValidNick(nick) else {
            throw ConfigError("\(at).nick must be a valid IRC nick (letters, digits, -[]\\`^{}|_, not starting with a digit or -)")
        }
        var channels: [String] = []
        if let list = v["channels"] {
            guard let items = list.arrayValue else { throw ConfigError("\(at).channels must be an array of channel names") }
            for item in items {
                guard let name = item.stringValue, isChannelName(name) else {
                    throw ConfigError("\(at).channels: \(item.jsonString) is not a channel name such as \"#ops\"")
                }
                channels.append(name)
            }
        }
        let password = v["password"]?.stringValue
        func int(_ key: String, _ range: ClosedRange<Int64>, _ fallback: Int64) throws(ConfigError) -> Int64 {
            guard let raw = v[key] else { return fallback }
            guard let i = raw.intValue, range.contains(i) else {
                throw ConfigError("\(at).\(key) must be an integer in \(range.lowerBound)…\(range.upperBound)")
            }
            return i
        }
        var config = IRCConfig(
            server: server,
            port: Int(try int("port", 1...65535, 6667)),
            session: IRCSession.Config(
                nick: nick,
                username: v["username"]?.stringValue.flatMap { isValidUsername($0) ? $0 : nil } ?? "openclaw",
                realname: v["realname"]?.stringValue ?? "OpenClaw gateway",
                password: password,
                channels: channels),
            floodBurst: Int(try int("floodBurst", 1...100, 4)),
            floodIntervalMs: try int("floodIntervalMs", 0...60_000, 500),
            reconnectMinMs: try int("reconnectMinMs", 100...600_000, 1_000),
            reconnectMaxMs: try int("reconnectMaxMs", 100...3_600_000, 30_000),
            pingIntervalMs: try int("pingIntervalMs", 1_000...3_600_000, 90_000))
        if let raw = v["allowFrom"] {
            if raw.stringValue == "*" {
                config.allowFrom = nil
            } else {
                guard let items = raw.arrayValue, case let nicks = items.compactMap(\.stringValue), nicks.count == items.count else {
                    throw ConfigError("\(at).allowFrom must be \"*\" or an array of nicks")
                }
                config.allowFrom = nicks.contains("*") ? nil : nicks.map(lowercasedNick)
            }
        }
        guard config.reconnectMinMs <= config.reconnectMaxMs else {
            throw ConfigError("\(at).reconnectMinMs must not exceed reconnectMaxMs")
        }
        return config
    }

    /// Why a message from `nick` starts no agent turn, or nil when `allowFrom` admits it.
    func refusal(for nick: String) -> String? {
        guard let allowFrom else { return nil }
        if allowFrom.isEmpty { return "channels.irc.allowFrom is empty (the default: nobody); add the nick, or \"*\" for everyone" }
        return allowFrom.contains(Self.lowercasedNick(nick)) ? nil : "\(nick) is not in channels.irc.allowFrom"
    }

    /// The text after `nick: ` or `nick, ` when a channel message is addressed to one of `nicks`; nil otherwise.
    static func addressedText(_ text: String, nicks: [String]) -> String? {
        for nick in nicks {
            let n = nick.utf8.count
            let bytes = Array(text.utf8)
            guard bytes.count > n, lowercasedNick(String(decoding: bytes[..<n], as: UTF8.self)) == lowercasedNick(nick),
                  bytes[n] == UInt8(ascii: ":") || bytes[n] == UInt8(ascii: ",") else { continue }
            let rest = String(decoding: bytes[(n + 1)...], as: UTF8.self).drop(while: { $0 == " " })
            return rest.isEmpty ? nil : String(rest)
        }
        return nil
    }

    /// RFC 1459 case mapping (ngircd's and most servers'): `A-Z[\]^` fold to `a-z{|}~`.
    static func lowercasedNick(_ s: String) -> String {
        String(decoding: s.utf8.map { b in
            switch b {
            case 0x41...0x5e: b + 0x20
            default: b
            }
        }, as: UTF8.self)
    }

    /// Longest target accepted. Even under the worst-case relay prefix
    /// (`:nick!user@host `), `PRIVMSG <target> :` then leaves over 150 bytes of
    /// text in the 510 a line may carry, so no line we build is one a server drops
    /// the link for.
    static let maxTargetBytes = 200

    /// A channel name judged by its bytes (RFC 2812 `chanstring`), not by Swift
    /// Characters: a comma or space glued to a combining mark is one grapheme but
    /// still a separate byte on the wire. No byte ≤ 0x20 (CR, LF, NUL, BEL, space),
    /// no `,` or `:`, no DEL; non-ASCII only as printable Unicode (no controls,
    /// format characters such as U+0600 or U+202E, or separators).
    static func isChannelName(_ s: String) -> Bool {
        guard let first = s.utf8.first, "#&+!".utf8.contains(first), s.utf8.count > 1, s.utf8.count <= maxTargetBytes
        else { return false }
        let forbiddenASCII: Set<UInt8> = [UInt8(ascii: ","), UInt8(ascii: ":"), 0x7F]
        guard s.utf8.allSatisfy({ $0 > 0x20 && !forbiddenASCII.contains($0) }) else { return false }
        return s.unicodeScalars.allSatisfy { $0.isASCII || isPrintable($0) }
    }

    private static func isPrintable(_ c: Unicode.Scalar) -> Bool {
        switch c.properties.generalCategory {
        case .control, .format, .surrogate, .privateUse, .unassigned,
             .spaceSeparator, .lineSeparator, .paragraphSeparator: false
        default: true
        }
    }

    /// The `USER` parameter, by bytes: printable ASCII without space or `@` (a space
    /// glued to a combining mark is not a Character " " but is still a space on the wire).
    static func isValidUsername(_ s: String) -> Bool {
        !s.isEmpty && s.utf8.count <= 64 && s.utf8.allSatisfy { $0 > 0x20 && $0 < 0x7F && $0 != UInt8(ascii: "@") }
    }

    static func isValidNick(_ s: String) -> Bool {
        guard let first = s.unicodeScalars.first, !s.isEmpty, s.utf8.count <= 64 else { return false }
        let special = "[]\\`^{}|_-"
        func ok(_ c: Unicode.Scalar) -> Bool {
            (c.isASCII && (c.properties.isAlphabetic || ("0"..."9").contains(c))) || special.unicodeScalars.contains(c)
        }
        return s.unicodeScalars.allSatisfy(ok) && !("0"..."9").contains(first) && first != "-"
    }

    /// A PRIVMSG target: one channel or one nick (a comma would address several).
    static func isValidTarget(_ s: String) -> Bool {
        isChannelName(s) || isValidNick(s)
    }
}
