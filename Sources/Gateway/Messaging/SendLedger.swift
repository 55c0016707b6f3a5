import Glibc
import JSONCore
import NetIO

/// The idempotency ledger of `send`: an append-only JSON-lines file in the
/// state dir, fsynced at each step, so a retry after a crash never delivers twice.
///
/// Each send moves through records, each made durable (write + fsync) before
/// the next step:
///
/// 1. `begin` {key, hash, id, channel, to, ts} — before the channel is asked.
/// 2. `handoff` {key} — synchronously right before the first byte can leave
///    the process (the channel calls back; nothing is on the wire yet).
/// 3. `done` {key, result} once the channel confirmed delivery, or `abort`
///    {key} when it failed without sending (the key may be used again).
///
/// After a restart the last record of a key decides:
/// - `done`: the stored result is returned, nothing is sent.
/// - `begin` only: the process died before any byte left, so the message was
///   certainly not delivered; a retry sends it (once) under the same messageId.
/// - `handoff` without `done`: **in doubt** — the bytes may or may not have
///   reached the server. It is never re-sent blindly: a retry is refused with
///   `UNAVAILABLE`, `retryable:false`, `details.inDoubt:true` (resend under a
///   new key if a duplicate is acceptable). This is the one case exactly-once
///   cannot cover: a channel that accepted the line just before the process died
///   and before `done` was recorded turns into at-most-once, never a duplicate.
///
/// Entries expire `ttlMs` after `begin` (24 h by default): after that the key
/// is forgotten and may send again. At most `maxEntries` keys are kept (oldest
/// finished ones are dropped first), and the file is rewritten with only the
/// live entries (temp file, fsync, rename, fsync of the directory) when stale
/// records outnumber live ones. A torn last line (crash mid-write) is ignored
/// and truncated away on load; its step never completed, so the previous
/// record of that key still holds.
final class SendLedger {
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

    struct LedgerError: Error, CustomStringConvertible {
        let description: String
    }

    let path: String
    let ttlMs: Int64
    let maxEntries: Int
    /// Below this many records the file is never rewritten.
    let compactAfter: Int
    private let now: () -> Int64
    private var fd: Int32 = -1
    private var entries: [String: Entry] = [:]
    /// Records in the file (for deciding when to compact).
    private(set) var recordCount = 0
    /// Lines skipped on load (torn tail, corruption), for the log.
    private(set) var skippedOnLoad = 0

    init(path: String, ttlMs: Int64 = 24 * 3600 * 1000, maxEntries: Int = 10_000, compactAfter: Int = 1024,
         now: @escaping () -> Int64 = EventLoop.wallClockMs) throws(LedgerError) {
        self.path = path
        self.ttlMs = ttlMs
        self.maxEntries = maxEntries
        self.compactAfter = compactAfter
        self.now = now
        try load()
        if skippedOnLoad > 0 || needsCompaction {
            try compact()
        } else {
            try openForAppend()
        }
    }

    deinit {
        if fd >= 0 { close(fd) }
    }

    var count: Int { entries.count }

    func lookup(key: String, hash: String) -> Lookup {
        guard let e = entries[key], !isExpired(e) else { return .fresh(messageId: nil) }
        if e.hash != hash { return .conflict }
        switch e.phase {
        case .done(let result): return .done(result)
        case .begun: return e.live ? .inFlight : .fresh(messageId: e.messageId)
        case .handedOff: return e.live ? .inFlight : .inDoubt(messageId: e.messageId)
        }
    }

    func begin(key: String, hash: String, messageId: String, channel: String, to: String) throws(LedgerError) {
        let ts = now()
        entries[key] = Entry(key: key, hash: hash, messageId: messageId, channel: channel, to: to, createdMs: ts,
                             phase: .begun, live: true)
        try append(["op": "begin", "key": .string(key), "hash": .string(hash), "id": .string(messageId),
                    "channel": .string(channel), "to": .string(to), "ts": .int(ts)])
        evictIfFull()
    }

    func handOff(key: String) throws(LedgerError) {
        guard entries[key] != nil else { return }
        entries[key]?.phase = .handedOff
        try append(["op": "handoff", "key": .string(key), "ts": .int(now())])
    }

    func complete(key: String, result: JSONValue) throws(LedgerError) {
        guard entries[key] != nil else { return }
        entries[key]?.phase = .done(result)
        entries[key]?.live = false
        try append(["op": "done", "key": .string(key), "ts": .int(now()), "result": result])
        if needsCompaction { try compact() }
    }

    /// Failed without sending anything: forget the key so a retry can send.
    func abort(key: String) throws(LedgerError) {
        guard entries.removeValue(forKey: key) != nil else { return }
        try append(["op": "abort", "key": .string(key), "ts": .int(now())])
    }

    /// A failure after the hand-off: keep the entry, but as a dead process would have left it.
    func markInDoubt(key: String) {
        entries[key]?.live = false
    }

    /// `createdMs` comes from the file, which anyone who can write the state dir
    /// can edit, so the age is computed without trapping (overflow means expired).
    private func isExpired(_ e: Entry) -> Bool {
        guard !e.live else { return false }
        let (age, overflow) = now().subtractingReportingOverflow(e.createdMs)
        return overflow || age > ttlMs
    }

    /// Timestamps a ledger can hold: 1970 up to year ~2255. Records outside are
    /// corrupt (like an unparsable line) rather than values to compute with.
    static let plausibleTimestamps: ClosedRange<Int64> = 0...(1 << 53)

    // MARK: file

    private var needsCompaction: Bool {
        recordCount > compactAfter && recordCount > 4 * max(entries.count, 1)
    }

    private func load() throws(LedgerError) {
        let rfd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)
        if rfd < 0 {
            if errno == ENOENT { return }
            throw Self.openError("read", path)
        }
        defer { close(rfd) }
        var data: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            let n = chunk.withUnsafeMutableBytes { read(rfd, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            if n < 0 { throw LedgerError(description: "cannot read \(path): \(String(cString: strerror(errno)))") }
            if n == 0 { break }
            data.append(contentsOf: chunk[0..<n])
        }
        var start = 0
        while start < data.count {
            guard let nl = data[start...].firstIndex(of: 10) else {
                skippedOnLoad += 1  // torn tail: its write never completed
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
        for (key, e) in entries where isExpired(e) { entries[key] = nil }
        evictIfFull()
    }

    /// Applies one record; false when it is unreadable (skipped and counted like a torn line).
    private func replay(_ r: JSONValue) -> Bool {
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

    private func evictIfFull() {
        guard entries.count > maxEntries else { return }
        // Finished entries go first (oldest first); in-flight ones only if nothing else is left.
        let victims = entries.values.sorted {
            ($0.live ? 1 : 0, $0.createdMs) < ($1.live ? 1 : 0, $1.createdMs)
        }.prefix(entries.count - maxEntries)
        for v in victims { entries[v.key] = nil }
    }

    private func openForAppend() throws(LedgerError) {
        let existed = access(path, F_OK) == 0
        fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0o600)
        guard fd >= 0 else { throw Self.openError("open", path) }
        if !existed { try syncDirectory() }
    }

    private func records(for e: Entry) -> [JSONValue] {
        var out: [JSONValue] = [["op": "begin", "key": .string(e.key), "hash": .string(e.hash), "id": .string(e.messageId),
                                 "channel": .string(e.channel), "to": .string(e.to), "ts": .int(e.createdMs)]]
        switch e.phase {
        case .begun: break
        case .handedOff: out.append(["op": "handoff", "key": .string(e.key), "ts": .int(e.createdMs)])
        case .done(let result):
            out.append(["op": "done", "key": .string(e.key), "ts": .int(e.createdMs), "result": result])
        }
        return out
    }

    /// Rewrites the file with only live entries: temp file, fsync, rename, fsync the directory.
    func compact() throws(LedgerError) {
        let tmp = path + ".tmp"
        // Whatever sits at the temp name (a leftover, or a symlink someone planted to have
        // its target truncated) is removed, never followed: the file is created fresh.
        if unlink(tmp) != 0 && errno != ENOENT { throw Self.openError("remove", tmp) }
        let tfd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0o600)
        guard tfd >= 0 else { throw Self.openError("create", tmp) }
        var bytes: [UInt8] = []
        var n = 0
        for e in entries.values.sorted(by: { $0.createdMs < $1.createdMs }) {
            for r in records(for: e) {
                r.serialize(into: &bytes)
                bytes.append(10)
                n += 1
            }
        }
        do throws(LedgerError) {
            try writeAll(tfd, bytes, what: tmp)
            guard fsync(tfd) == 0 else { throw LedgerError(description: "fsync \(tmp): \(String(cString: strerror(errno)))") }
        } catch {
            close(tfd)
            unlink(tmp)
            throw error
        }
        close(tfd)
        guard rename(tmp, path) == 0 else {
            throw LedgerError(description: "rename \(tmp): \(String(cString: strerror(errno)))")
        }
        try syncDirectory()
        if fd >= 0 { close(fd) }
        fd = -1
        recordCount = n
        try openForAppend()
    }

    /// ELOOP from O_NOFOLLOW gets a sentence of its own: the ledger is never a symlink.
    private static func openError(_ verb: String, _ path: String) -> LedgerError {
        let reason = errno == ELOOP ? "it is a symbolic link (remove it; the ledger must be a regular file)"
            : String(cString: strerror(errno))
        return LedgerError(description: "cannot \(verb) \(path): \(reason)")
    }

    private func append(_ record: JSONValue) throws(LedgerError) {
        var bytes = record.serialized()
        bytes.append(10)
        try writeAll(fd, bytes, what: path)
        guard fdatasync(fd) == 0 else { throw LedgerError(description: "fsync \(path): \(String(cString: strerror(errno)))") }
        recordCount += 1
    }

    private func writeAll(_ fd: Int32, _ bytes: [UInt8], what: String) throws(LedgerError) {
        var off = 0
        while off < bytes.count {
            let n = bytes.withUnsafeBytes { write(fd, $0.baseAddress! + off, bytes.count - off) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { throw LedgerError(description: "write \(what): \(String(cString: strerror(errno)))") }
            off += n
        }
    }

    private func syncDirectory() throws(LedgerError) {
        let dir = path.lastIndex(of: "/").map { String(path[..<$0]) } ?? "."
        let dfd = open(dir.isEmpty ? "/" : dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard dfd >= 0 else { throw LedgerError(description: "open \(dir): \(String(cString: strerror(errno)))") }
        defer { close(dfd) }
        _ = fsync(dfd)
    }
}
