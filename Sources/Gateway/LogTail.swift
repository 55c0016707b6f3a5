import Glibc
import GatewayProtocol
import JSONCore
import SystemdKit

/// `logs.tail`: the gateway's own lines, from the journal when it can be read
/// back (cursors survive restarts), else from the in-memory ring.
struct LogTail {
    let log: GatewayLog
    let profile: String

    private static let ringCursorPrefix = "mem:"

    func tail(params: JSONValue) throws(RPCError) -> JSONValue {
        let limit = try bounded(params["limit"], name: "limit", range: 1...5000, default: 200)
        let maxBytes = try bounded(params["maxBytes"], name: "maxBytes", range: 1...1_000_000, default: 250_000)
        var cursor: String? = nil
        if let c = params["cursor"] {
            guard let s = c.stringValue else { throw RPCError(.invalidRequest, "param cursor must be a string") }
            cursor = s.isEmpty ? nil : s
        }
        if log.usesJournal, let result = fromJournal(cursor: cursor, limit: limit, maxBytes: maxBytes) {
            return result
        }
        return fromRing(cursor: cursor, limit: limit, maxBytes: maxBytes)
    }

    private func bounded(_ v: JSONValue?, name: String, range: ClosedRange<Int>, default d: Int) throws(RPCError) -> Int {
        guard let v else { return d }
        guard let i = v.intValue, range.contains(Int(i)) else {
            throw RPCError(.invalidRequest, "param \(name) must be an integer in \(range.lowerBound)…\(range.upperBound)")
        }
        return Int(i)
    }

    private func fromJournal(cursor: String?, limit: Int, maxBytes: Int) -> JSONValue? {
        guard cursor == nil || !cursor!.hasPrefix(Self.ringCursorPrefix) else { return nil }
        do {
            let reader = try JournalReader(matches: JournalView.matches(profile: profile, uid: geteuid()))
            var reset = false
            let entries: [JournalLine]
            if let cursor {
                (entries, reset) = try reader.after(cursor: cursor, limit: limit)
            } else {
                entries = try reader.tail(limit: limit)
            }
            if entries.isEmpty && cursor == nil { return nil }
            var page = entries.map { Page.Item(line: JournalView.format($0), cursor: $0.cursor) }
            let truncated = Page.fit(&page, maxBytes, keepNewest: cursor == nil)
            return Page.payload(source: "journal", page, cursor: page.last?.cursor ?? cursor ?? "",
                                truncated: truncated, reset: reset)
        } catch {
            return nil
        }
    }

    private func fromRing(cursor: String?, limit: Int, maxBytes: Int) -> JSONValue {
        let all = log.ringEntries()
        var reset = false
        var selected: ArraySlice<GatewayLog.Entry>
        if let cursor {
            let parts = cursor.dropFirst(Self.ringCursorPrefix.count).split(separator: ":")
            if cursor.hasPrefix(Self.ringCursorPrefix), parts.count == 2, String(parts[0]) == log.instance,
               let seq = UInt64(parts[1]), Self.isInRing(seq, all)
            {
                selected = all.drop(while: { $0.seq <= seq }).prefix(limit)
            } else {
                // Another instance's cursor, or lines already rotated out of the ring.
                reset = true
                selected = all.suffix(limit)
            }
        } else {
            selected = all.suffix(limit)
        }
        let prefix = "\(Self.ringCursorPrefix)\(log.instance):"
        var page = selected.map { Page.Item(line: $0.line, cursor: prefix + String($0.seq)) }
        let truncated = Page.fit(&page, maxBytes, keepNewest: cursor == nil || reset)
        let seq = cursor != nil && !reset ? UInt64(cursor!.split(separator: ":").last ?? "") ?? 0 : all.last?.seq ?? 0
        return Page.payload(source: "memory", page, cursor: page.last?.cursor ?? prefix + String(seq),
                            truncated: truncated, reset: reset)
    }

    /// A cursor continues the ring when it names a line this instance wrote that is
    /// still there or the one just before the oldest kept. Any other number (from
    /// the future, or UInt64.max from a hostile client) acts like an unknown cursor;
    /// written without `+ 1` on the client's number so that no value can trap.
    private static func isInRing(_ seq: UInt64, _ all: [GatewayLog.Entry]) -> Bool {
        guard let first = all.first?.seq, let last = all.last?.seq else { return seq == 0 }
        return seq >= first - 1 && seq <= last
    }
}

/// How the gateway's journal entries are selected and shown: by `logs.tail`, and by `openclaw logs`
/// reading the journal itself when the gateway is down, so both print the same lines the same way.
public enum JournalView {
    /// `_UID` is set by journald, not by the sender: other users' processes cannot slip lines
    /// into this gateway's log by naming its identifier and profile.
    public static func matches(profile: String, uid: uid_t) -> [String] {
        ["SYSLOG_IDENTIFIER=\(GatewayLog.identifier)", "OPENCLAW_PROFILE=\(profile)", "_UID=\(uid)"]
    }

    /// "2026-11-25T21:40:00.123Z WARN message"
    public static func format(_ line: JournalLine) -> String {
        Timestamp.iso8601(ms: Int64(line.realtimeUsec / 1000)) + " " + label(priority: line.priority) + " "
            + ControlCharacters.escaped(line.message)
    }

    public static func label(priority: Int) -> String {
        LogPriority(rawValue: Int32(clamping: priority))?.label ?? "INFO"
    }

    /// The priority a label names (`--priority warning`, `WARN`, `4`), as journalctl accepts them.
    public static func priority(named name: String) -> Int? {
        if let n = Int(name), (0...7).contains(n) { return n }
        let lower = name.lowercased()
        let aliases = ["emerg": 0, "alert": 1, "crit": 2, "err": 3, "error": 3, "warning": 4, "warn": 4, "notice": 5,
                       "info": 6, "debug": 7]
        return aliases[lower]
    }
}

/// One `logs.tail` answer: lines with their own cursors, fitted to `maxBytes`.
enum Page {
    struct Item {
        var line: String
        var cursor: String
    }

    /// Keeps the lines that fit in `maxBytes`: the newest for a first tail, the oldest when
    /// following a cursor (the next call continues from there, so nothing is lost). A line that
    /// alone exceeds `maxBytes` is cut and marked rather than dropped: a follower must always make
    /// progress, or one long line would stop it for good.
    static func fit(_ items: inout [Item], _ maxBytes: Int, keepNewest: Bool) -> Bool {
        var total = 0
        var keep = 0
        for item in keepNewest ? Array(items.reversed()) : items {
            total += item.line.utf8.count + 1
            if total > maxBytes { break }
            keep += 1
        }
        guard keep < items.count else { return false }
        if keep == 0 {
            var first = keepNewest ? items[items.count - 1] : items[0]
            first.line = cut(first.line, to: maxBytes - 1)
            items = [first]
            return true
        }
        items = keepNewest ? Array(items.suffix(keep)) : Array(items.prefix(keep))
        return true
    }

    /// The line's head (whole characters) and " … [cut: N bytes]", within `limit` bytes when
    /// the marker itself fits.
    static func cut(_ line: String, to limit: Int) -> String {
        let mark = " … [cut: \(line.utf8.count) bytes]"
        var head = String.UnicodeScalarView()
        var used = mark.utf8.count
        for c in line.unicodeScalars {
            used += UTF8.width(c)
            if used > limit { break }
            head.append(c)
        }
        return String(head) + mark
    }

    static func payload(source: String, _ items: [Item], cursor: String, truncated: Bool, reset: Bool) -> JSONValue {
        var o = JSONObject()
        o["source"] = .string(source)
        o["cursor"] = .string(cursor)
        o["lines"] = .array(items.map { .string($0.line) })
        o["cursors"] = .array(items.map { .string($0.cursor) })
        if truncated { o["truncated"] = true }
        if reset { o["reset"] = true }
        return .object(o)
    }
}
