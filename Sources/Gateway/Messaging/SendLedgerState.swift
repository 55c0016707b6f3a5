import JSONCore

/// What the send ledger knows, and how its JSON-lines records replay into it:
/// the part of `SendLedger` without I/O, so the loader can be fuzzed
/// (Fuzz/LedgerFuzz.swift) and the file side stays about durability alone.
struct SendLedgerState {
    enum Phase: Equatable {
        case begun
        case handedOff
        case done(JSONValue)
    }

    struct Entry: Equatable {
        let key: String
        let hash: String
        let messageId: String
        let channel: String
        let to: String
        let createdMs: Int64
        var phase: Phase
        /// Begun by this process (so still in flight here), rather than loaded from disk.
        var live: Bool
    }

    enum Lookup: Equatable {
        /// Not sent before: send it under this messageId (a fresh one, or the one a
        /// crashed process recorded before sending anything).
        case fresh(messageId: String?)
        case conflict
        case done(JSONValue)
        /// This process is sending it right now.
        case inFlight
        case inDoubt(messageId: String)
    }

    let ttlMs: Int64
    let maxEntries: Int
    var entries: [String: Entry] = [:]
    /// Records in the file (for deciding when to compact).
    var recordCount = 0
    /// Lines skipped on load (torn tail, corruption), for the log.
    var skippedOnLoad = 0

    init(ttlMs: Int64, maxEntries: Int) {
        self.ttlMs = ttlMs
        self.maxEntries = maxEntries
    }

    func lookup(key: String, hash: String, now: Int64) -> Lookup {
        guard let e = entries[key], !isExpired(e, now: now) else { return .fresh(messageId: nil) }
        if e.hash != hash { return .conflict }
        switch e.phase {
        case .done(let result): return .done(result)
        case .begun: return e.live ? .inFlight : .fresh(messageId: e.messageId)
        case .handedOff: return e.live ? .inFlight : .inDoubt(messageId: e.messageId)
        }
    }

    /// `createdMs` comes from the file, which anyone who can write the state dir
    /// can edit, so the age is computed without trapping (overflow means expired).
    func isExpired(_ e: Entry, now: Int64) -> Bool {
        guard !e.live else { return false }
        let (age, overflow) = now.subtractingReportingOverflow(e.createdMs)
        return overflow || age > ttlMs
    }

    /// Timestamps a ledger can hold: 1970 up to year ~2255. Records outside are
    /// corrupt (like an unparsable line) rather than values to compute with.
    static let plausibleTimestamps: ClosedRange<Int64> = 0...(1 << 53)

    /// Replays a whole file. A last line without its newline is a write that
    /// never completed (a crash): it is skipped like a corrupt line, and the
    /// previous record of its key still holds.
    mutating func load(_ data: [UInt8], now: Int64) {
        var start = 0
        while start < data.count {
            guard let nl = data[start...].firstIndex(of: 10) else {
                skippedOnLoad += 1
                break
            }
            if nl > start {
                if let record = try? JSONValue.parse(data[start..<nl]), replay(record) {
                    recordCount += 1
                } else {
                    skippedOnLoad += 1
                }
            }
            start = nl + 1
        }
        for (key, e) in entries where isExpired(e, now: now) { entries[key] = nil }
        evictIfFull()
    }

    /// Applies one record; false when it is unreadable (skipped and counted like a torn line).
    mutating func replay(_ r: JSONValue) -> Bool {
        guard let op = r["op"]?.stringValue, let key = r["key"]?.stringValue else { return false }
        switch op {
        case "begin":
            guard let hash = r["hash"]?.stringValue, let id = r["id"]?.stringValue, let ts = r["ts"]?.intValue,
                  Self.plausibleTimestamps.contains(ts)
            else { return false }
            entries[key] = Entry(key: key, hash: hash, messageId: id, channel: r["channel"]?.stringValue ?? "",
                                 to: r["to"]?.stringValue ?? "", createdMs: ts, phase: .begun, live: false)
        case "handoff":
            entries[key]?.phase = .handedOff
        case "done":
            entries[key]?.phase = .done(r["result"] ?? .null)
        case "abort":
            entries[key] = nil
        default:
            break
        }
        return true
    }

    mutating func evictIfFull() {
        guard entries.count > maxEntries else { return }
        // Finished entries go first (oldest first); in-flight ones only if nothing else is left.
        let victims = entries.values.sorted {
            ($0.live ? 1 : 0, $0.createdMs) < ($1.live ? 1 : 0, $1.createdMs)
        }.prefix(entries.count - maxEntries)
        for v in victims { entries[v.key] = nil }
    }

    static func beginRecord(_ e: Entry) -> JSONValue {
        ["op": "begin", "key": .string(e.key), "hash": .string(e.hash), "id": .string(e.messageId),
         "channel": .string(e.channel), "to": .string(e.to), "ts": .int(e.createdMs)]
    }

    /// The whole state as a file (what compaction writes), and its record count.
    func serialized() -> (bytes: [UInt8], records: Int) {
        var bytes: [UInt8] = []
        var n = 0
        func add(_ r: JSONValue) {
            r.serialize(into: &bytes)
            bytes.append(10)
            n += 1
        }
        for e in entries.values.sorted(by: { ($0.createdMs, $0.key) < ($1.createdMs, $1.key) }) {
            add(Self.beginRecord(e))
            switch e.phase {
            case .begun: break
            case .handedOff: add(["op": "handoff", "key": .string(e.key), "ts": .int(e.createdMs)])
            case .done(let result): add(["op": "done", "key": .string(e.key), "ts": .int(e.createdMs), "result": result])
            }
        }
        return (bytes, n)
    }
}
