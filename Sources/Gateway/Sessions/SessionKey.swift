/// Session keys: one session per conversation, under a key that stays the same
/// across restarts and reloads (documented in docs/PROTOCOL-NOTES.md):
///
/// - `irc:direct:<nick>`: direct messages with one IRC user (nick lowercased),
/// - `irc:group:<#channel>`: an IRC channel (lowercased), whoever speaks in it,
/// - anything else a client names (`openclaw agent --session KEY`, `chat.send`):
///   a session without a channel, whose replies go only to the caller.
enum SessionKey {
    static let maxBytes = 200

    static func conversation(channel: String, isGroup: Bool, peer: String) -> String {
        "\(channel):\(isGroup ? "group" : "direct"):\(lowercasedASCII(peer))"
    }

    /// Why `key` cannot name a session, or nil when it can.
    static func problem(_ key: String) -> String? {
        if key.isEmpty { return "must not be empty" }
        if key.utf8.count > maxBytes { return "at most \(maxBytes) bytes" }
        if key.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7f }) { return "must not contain control characters" }
        return nil
    }

    /// Where replies of a channel-bound session go; nil for other sessions.
    static func route(of key: String) -> SessionRoute? {
        let parts = key.split(separator: ":", maxSplits: 2, omittingEmptySubsequences: false).map(String.init)
        guard parts.count == 3, !parts[0].isEmpty, !parts[2].isEmpty, parts[1] == "direct" || parts[1] == "group" else { return nil }
        return SessionRoute(channel: parts[0], to: parts[2], isGroup: parts[1] == "group")
    }

    /// The transcript's file name: the key with every byte outside `[A-Za-z0-9._-]` as `%XX`.
    static func fileName(_ key: String) -> String {
        var out = ""
        for b in key.utf8 {
            switch b {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                 UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "-"):
                out.unicodeScalars.append(Unicode.Scalar(b))
            default:
                let hex = Array("0123456789ABCDEF".unicodeScalars)
                out.unicodeScalars.append("%")
                out.unicodeScalars.append(hex[Int(b >> 4)])
                out.unicodeScalars.append(hex[Int(b & 0xf)])
            }
        }
        return out + suffix
    }

    static let suffix = ".jsonl"

    /// The key back from a transcript's file name; nil for names that are not transcripts.
    static func key(fromFileName name: String) -> String? {
        guard name.hasSuffix(suffix), name.utf8.count > suffix.utf8.count else { return nil }
        var bytes: [UInt8] = []
        var it = Array(name.utf8.dropLast(suffix.utf8.count))[...]
        while let b = it.popFirst() {
            guard b == UInt8(ascii: "%") else { bytes.append(b); continue }
            guard it.count >= 2, let v = UInt8(String(decoding: it.prefix(2), as: UTF8.self), radix: 16) else { return nil }
            bytes.append(v)
            it = it.dropFirst(2)
        }
        return String(validating: bytes, as: UTF8.self)
    }

    private static func lowercasedASCII(_ s: String) -> String {
        String(decoding: s.utf8.map { (0x41...0x5a).contains($0) ? $0 + 0x20 : $0 }, as: UTF8.self)
    }
}

/// Where a channel-bound session's replies are delivered.
struct SessionRoute: Equatable {
    var channel: String
    /// The nick (direct) or channel (group).
    var to: String
    var isGroup: Bool
}
