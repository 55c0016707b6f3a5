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
            // `_UID` is set by journald, not by the sender: other users' processes cannot slip lines
            // into this gateway's log by naming its identifier and profile.
            let reader = try JournalReader(matches: ["SYSLOG_IDENTIFIER=\(GatewayLog.identifier)", "OPENCLAW_PROFILE=\(profile)",
                                                     "_UID=\(geteuid())"])
            var reset = false
            var entries: [JournalLine]
            if let cursor {
                (entries, reset) = try reader.after(cursor: cursor, limit: limit)
            } else {
                entries = try reader.tail(limit: limit)
            }
            if entries.isEmpty && cursor == nil { return nil }
            var lines: [String] = entries.map { line in
                let ms = Int64(line.realtimeUsec / 1000)
                return Timestamp.iso8601(ms: ms) + " " + (LogPriority(rawValue: Int32(clamping: line.priority))?.label ?? "INFO") + " "
                    + ControlCharacters.escaped(line.message)
            }
            let keepNewest = cursor == nil
            let truncated = trimToBytes(&lines, maxBytes, keepNewest: keepNewest)
            if truncated { entries = keepNewest ? Array(entries.suffix(lines.count)) : Array(entries.prefix(lines.count)) }
            let next = entries.last?.cursor ?? cursor ?? ""
            var o = JSONObject()
            o["source"] = "journal"
            o["cursor"] = .string(next)
            o["lines"] = .array(lines.map(JSONValue.string))
            if truncated { o["truncated"] = true }
            if reset { o["reset"] = true }
            return .object(o)
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
        var lines = selected.map(\.line)
        let keepNewest = cursor == nil || reset
        let truncated = trimToBytes(&lines, maxBytes, keepNewest: keepNewest)
        let kept = truncated ? (keepNewest ? selected.suffix(lines.count) : selected.prefix(lines.count)) : selected
        let lastSeq = kept.last?.seq
        let seq = lastSeq ?? (cursor != nil && !reset ? UInt64(cursor!.split(separator: ":").last ?? "") ?? 0 : all.last?.seq ?? 0)
        var o = JSONObject()
        o["source"] = "memory"
        o["cursor"] = .string("\(Self.ringCursorPrefix)\(log.instance):\(seq)")
        o["lines"] = .array(lines.map(JSONValue.string))
        if truncated { o["truncated"] = true }
        if reset { o["reset"] = true }
        return .object(o)
    }

    /// A cursor continues the ring when it names a line this instance wrote that is
    /// still there or the one just before the oldest kept. Any other number (from
    /// the future, or UInt64.max from a hostile client) acts like an unknown cursor;
    /// written without `+ 1` on the client's number so that no value can trap.
    private static func isInRing(_ seq: UInt64, _ all: [GatewayLog.Entry]) -> Bool {
        guard let first = all.first?.seq, let last = all.last?.seq else { return seq == 0 }
        return seq >= first - 1 && seq <= last
    }

    /// Keeps the lines that fit in `maxBytes`: the newest for a first tail, the oldest when
    /// following a cursor (the next call continues from there, so nothing is lost).
    private func trimToBytes(_ lines: inout [String], _ maxBytes: Int, keepNewest: Bool) -> Bool {
        var total = 0
        var keep = 0
        for line in keepNewest ? Array(lines.reversed()) : lines {
            total += line.utf8.count + 1
            if total > maxBytes { break }
            keep += 1
        }
        guard keep < lines.count else { return false }
        lines = keepNewest ? Array(lines.suffix(keep)) : Array(lines.prefix(keep))
        return true
    }
}
