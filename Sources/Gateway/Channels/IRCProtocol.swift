/// IRC without I/O (RFC 1459 / RFC 2812): message syntax, line framing, the
/// client's registration state machine and PRIVMSG splitting. The socket side
/// lives in `IRCChannel`; everything here is pure so it can be unit-tested.

/// One IRC message: `[@tags] [:prefix] COMMAND params… [:trailing]`.
struct IRCMessage: Equatable, Sendable {
    var prefix: String?
    var command: String
    var params: [String]

    init(prefix: String? = nil, _ command: String, _ params: [String] = []) {
        self.prefix = prefix
        self.command = command
        self.params = params
    }

    /// The nick part of a `nick!user@host` prefix.
    var sourceNick: String? {
        guard let prefix else { return nil }
        return String(prefix.prefix(while: { $0 != "!" && $0 != "@" }))
    }

    /// Parses one line without its CR LF; nil for an empty or command-less line.
    /// Bytes that are not UTF-8 become U+FFFD: IRC has no declared encoding and
    /// the gateway's clients speak JSON strings.
    static func parse<C: Collection>(_ line: C) -> IRCMessage? where C.Element == UInt8 {
        var rest = Substring(String(decoding: line, as: UTF8.self))
        func word() -> Substring {
            let end = rest.firstIndex(of: " ") ?? rest.endIndex
            let w = rest[..<end]
            rest = rest[end...].drop(while: { $0 == " " })
            return w
        }
        rest = rest.drop(while: { $0 == " " })
        if rest.first == "@" { _ = word() }  // IRCv3 message tags: not used
        var prefix: String?
        if rest.first == ":" { prefix = String(word().dropFirst()) }
        let command = word()
        guard !command.isEmpty else { return nil }
        var params: [String] = []
        while !rest.isEmpty {
            if rest.first == ":" {
                params.append(String(rest.dropFirst()))
                break
            }
            params.append(String(word()))
        }
        return IRCMessage(prefix: prefix, command.uppercased(), params)
    }

    /// Wire form with CR LF. The last parameter is sent as trailing (`:`) when it
    /// needs to be (empty, has a space, or starts with ':'); CR, LF and NUL, which
    /// would end or corrupt the line, are dropped from every parameter.
    func serialized() -> [UInt8] {
        var out: [UInt8] = []
        if let prefix {
            out.append(UInt8(ascii: ":"))
            out.append(contentsOf: Self.clean(prefix))
            out.append(UInt8(ascii: " "))
        }
        out.append(contentsOf: Self.clean(command))
        for (i, p) in params.enumerated() {
            out.append(UInt8(ascii: " "))
            let isLast = i == params.count - 1
            if isLast && (p.isEmpty || p.contains(" ") || p.hasPrefix(":")) { out.append(UInt8(ascii: ":")) }
            out.append(contentsOf: Self.clean(p))
        }
        out.append(contentsOf: [13, 10])
        return out
    }

    private static func clean(_ s: String) -> [UInt8] {
        s.utf8.filter { $0 != 13 && $0 != 10 && $0 != 0 }
    }
}

/// Cuts a byte stream into IRC lines (CR LF; a bare LF is tolerated). A line
/// longer than `maxLineBytes` (a broken or hostile server) is discarded up to
/// its end rather than buffered without bound.
struct IRCLineFramer {
    /// RFC 2812's 512 plus the 8 KiB IRCv3 allows for tags.
    let maxLineBytes: Int
    private var buffer: [UInt8] = []
    private var discarding = false

    init(maxLineBytes: Int = 512 + 8192) { self.maxLineBytes = maxLineBytes }

    mutating func feed<C: Collection>(_ bytes: C) -> [IRCMessage] where C.Element == UInt8 {
        var messages: [IRCMessage] = []
        for byte in bytes {
            if byte == 10 {
                if !discarding {
                    if buffer.last == 13 { buffer.removeLast() }
                    if let m = IRCMessage.parse(buffer) { messages.append(m) }
                }
                buffer.removeAll(keepingCapacity: true)
                discarding = false
            } else if !discarding {
                buffer.append(byte)
                if buffer.count > maxLineBytes {
                    discarding = true
                    buffer.removeAll(keepingCapacity: true)
                }
            }
        }
        return messages
    }
}

/// Splits outgoing text into PRIVMSG lines that fit RFC 2812's 512 bytes as the
/// *recipients* see them: the server prepends `:nick!user@host ` when it relays,
/// so that prefix counts against the limit too.
enum IRCTextSplitter {
    static let maxLineBytes = 512
    /// RFC 2812 caps host names at 63 bytes and servers cap user names near 10;
    /// used until the server tells us our real `nick!user@host`.
    static let worstCaseUserHost = 1 + 10 + 1 + 63

    /// Bytes of text that fit in one relayed `PRIVMSG target :text` line.
    static func textBudget(target: String, nick: String, userHost: String?) -> Int {
        let prefix = 1 + nick.utf8.count + (userHost.map { 1 + $0.utf8.count } ?? worstCaseUserHost) + 1  // ":nick!user@host "
        let command = "PRIVMSG ".utf8.count + target.utf8.count + " :".utf8.count
        return max(16, maxLineBytes - 2 - prefix - command)
    }

    /// Lines of at most `budget` bytes each. Newlines in the text start new lines
    /// (IRC cannot carry them), empty lines are dropped, cuts fall on a space when
    /// one is near the end and never inside a UTF-8 sequence.
    static func split(_ text: String, budget: Int) -> [String] {
        var lines: [String] = []
        for paragraph in text.split(omittingEmptySubsequences: true, whereSeparator: { $0 == "\n" || $0 == "\r" || $0 == "\r\n" }) {
            var bytes = Array(paragraph.utf8.filter { $0 != 0 })
            while !bytes.isEmpty {
                if bytes.count <= budget {
                    lines.append(String(decoding: bytes, as: UTF8.self))
                    break
                }
                var cut = budget
                // Never split a multi-byte sequence: back up over continuation bytes (10xxxxxx).
                while cut > 0 && bytes[cut] & 0xC0 == 0x80 { cut -= 1 }
                if cut == 0 { cut = budget }
                // Prefer a word boundary in the last quarter of the line.
                if let space = bytes[(cut - cut / 4)..<cut].lastIndex(of: UInt8(ascii: " ")), space > 0 {
                    cut = space
                }
                lines.append(String(decoding: bytes[..<cut], as: UTF8.self))
                bytes = Array(bytes[cut...].drop(while: { $0 == UInt8(ascii: " ") }))
            }
        }
        return lines
    }
}

/// The client side of one IRC connection, as a state machine: feed it the
/// server's messages, it answers with what to do. Registration (PASS, NICK,
/// USER → 001), nick collisions (433/436/432 → the next alternate nick),
/// PING/PONG, JOIN of the configured channels, PONG acknowledgements of our
/// own PINGs (how `send` learns the server has processed its PRIVMSGs), and
/// inbound PRIVMSGs.
struct IRCSession {
    struct Config: Equatable, Sendable {
        var nick: String
        var username: String
        var realname: String
        var password: String?
        var channels: [String]
    }

    enum Output: Equatable {
        case send(IRCMessage)
        /// 001 received: the session is usable under `nick`.
        case registered(nick: String)
        case inbound(from: String, target: String, text: String, isAction: Bool)
        /// The server answered our `PING :token`.
        case ack(token: String)
        /// The server refused us in a way reconnecting will not fix (bad password, banned).
        case refused(String)
        /// The server is closing the link (ERROR) or reported something worth logging.
        case serverError(String)
        /// Someone kicked us from `channel`: rejoining at once would be a kick loop,
        /// so the channel rejoins after a backoff.
        case kicked(channel: String, by: String, reason: String)
    }

    let config: Config
    private(set) var nick: String
    private(set) var isRegistered = false
    /// `user@host` as the server sees us, learned from 001 or our own JOIN echo.
    private(set) var userHost: String?
    private(set) var joined: Set<String> = []
    private var nickAttempt = 0

    init(config: Config) {
        self.config = config
        nick = config.nick
    }

    /// What to send right after the TCP connection is up.
    mutating func start() -> [Output] {
        var out: [Output] = []
        if let pw = config.password, !pw.isEmpty { out.append(.send(IRCMessage("PASS", [pw]))) }
        out.append(.send(IRCMessage("NICK", [nick])))
        out.append(.send(IRCMessage("USER", [config.username, "0", "*", config.realname])))
        return out
    }

    /// The n-th nick to try after collisions: `nick`, `nick_`, `nick2`, `nick3`…
    /// shortened to RFC 2812's 9 characters when the suffix would push it past them.
    static func alternateNick(_ base: String, attempt: Int) -> String {
        guard attempt > 0 else { return base }
        let suffix = attempt == 1 ? "_" : String(attempt)
        let candidate = base + suffix
        if candidate.count <= 9 { return candidate }
        return String(base.prefix(max(1, 9 - suffix.count))) + suffix
    }

    func isSelf(_ name: String?) -> Bool {
        guard let name else { return false }
        return name.lowercased() == nick.lowercased()
    }

    mutating func handle(_ m: IRCMessage) -> [Output] {
        switch m.command {
        case "PING":
            return [.send(IRCMessage("PONG", m.params.isEmpty ? [""] : m.params))]
        case "PONG":
            guard let token = m.params.last else { return [] }
            return [.ack(token: token)]
        case "001":
            isRegistered = true
            if let me = m.params.first, !me.isEmpty { nick = me }
            // "Welcome to the Internet Relay Network nick!user@host"
            if let last = m.params.last?.split(separator: " ").last, let bang = last.firstIndex(of: "!"),
               last[..<bang].lowercased() == nick.lowercased()
            {
                userHost = String(last[last.index(after: bang)...])
            }
            var out: [Output] = [.registered(nick: nick)]
            if !config.channels.isEmpty {
                out.append(.send(IRCMessage("JOIN", [config.channels.joined(separator: ",")])))
            }
            return out
        case "432", "433", "436", "437":
            // Only our own registration nick matters; after 001 a failed NICK change keeps the old one.
            guard !isRegistered else { return [] }
            nickAttempt += 1
            guard nickAttempt < 50 else { return [.refused("no usable nick (tried \(nickAttempt) alternates of \(config.nick))")] }
            nick = Self.alternateNick(config.nick, attempt: nickAttempt)
            return [.send(IRCMessage("NICK", [nick]))]
        case "NICK":
            if isSelf(m.sourceNick), let new = m.params.first { nick = new }
            return []
        case "JOIN":
            guard isSelf(m.sourceNick), let channel = m.params.first else { return [] }
            joined.insert(channel.lowercased())
            if let prefix = m.prefix, let bang = prefix.firstIndex(of: "!") {
                userHost = String(prefix[prefix.index(after: bang)...])
            }
            return []
        case "PART":
            if isSelf(m.sourceNick), let channel = m.params.first { joined.remove(channel.lowercased()) }
            return []
        case "KICK":
            guard m.params.count >= 2, isSelf(m.params[1]) else { return [] }
            joined.remove(m.params[0].lowercased())
            return [.kicked(channel: m.params[0], by: m.sourceNick ?? "the server", reason: m.params.count > 2 ? m.params[2] : "")]
        case "PRIVMSG":
            guard m.params.count >= 2, let from = m.sourceNick, !isSelf(from) else { return [] }
            var text = m.params[1]
            var isAction = false
            if text.hasPrefix("\u{1}") {
                // CTCP: ACTION is a message ("/me waves"); VERSION, PING… are client chatter.
                let body = text.dropFirst().prefix(while: { $0 != "\u{1}" })
                guard body.hasPrefix("ACTION ") else { return [] }
                text = String(body.dropFirst("ACTION ".count))
                isAction = true
            }
            return [.inbound(from: from, target: m.params[0], text: text, isAction: isAction)]
        case "464", "465":
            return [.refused(m.params.last ?? m.command)]
        case "ERROR":
            return [.serverError(m.params.last ?? "ERROR")]
        default:
            return []
        }
    }
}
