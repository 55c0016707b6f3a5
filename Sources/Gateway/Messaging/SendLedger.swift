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
/// and rewritten away on load; its step never completed, so the previous
/// record of that key still holds.
///
/// **Faults.** When the file cannot be read, opened, written or fsynced (a full
/// disk, EIO, a read-only state dir), the ledger does not throw the gateway
/// out: it records the cause in `fault`, every step refuses with it (so no
/// send goes out unrecorded), and `recover()` — called on a timer and before
/// each send — rewrites the file from memory (whatever a failed write left
/// half-done is dropped) and clears the fault once the disk takes it again.
final class SendLedger {
    typealias Entry = SendLedgerState.Entry
    typealias Lookup = SendLedgerState.Lookup

    struct LedgerError: Error, CustomStringConvertible {
        let description: String
    }

    /// Why the ledger cannot record right now.
    struct Fault: Equatable {
        let cause: String
        let sinceMs: Int64
    }

    let path: String
    /// Below this many records the file is never rewritten.
    let compactAfter: Int
    private let now: () -> Int64
    private var fd: Int32 = -1
    private var state: SendLedgerState
    /// False until the file has been read once: until then nothing is known about past sends.
    private var loaded = false
    /// The file may hold a torn or lost record: the next successful open rewrites it from memory.
    private var needsRewrite = false
    /// Set while records cannot be made durable; sends are refused meanwhile.
    private(set) var fault: Fault?
    /// Called when `fault` appears or clears (for `health` and the log).
    var onFaultChange: ((Fault?) -> Void)?

    /// Never throws: a ledger that cannot be read or written starts in `fault`
    /// and keeps trying (`recover()`), so the gateway serves everything else.
    init(path: String, ttlMs: Int64 = 24 * 3600 * 1000, maxEntries: Int = 10_000, compactAfter: Int = 1024,
         now: @escaping () -> Int64 = EventLoop.wallClockMs) {
        self.path = path
        self.compactAfter = compactAfter
        self.now = now
        state = SendLedgerState(ttlMs: ttlMs, maxEntries: maxEntries)
        recover()
    }

    deinit {
        if fd >= 0 { close(fd) }
    }

    var count: Int { state.entries.count }
    var recordCount: Int { state.recordCount }
    var skippedOnLoad: Int { state.skippedOnLoad }

    func lookup(key: String, hash: String) -> Lookup {
        state.lookup(key: key, hash: hash, now: now())
    }

    func begin(key: String, hash: String, messageId: String, channel: String, to: String) throws(LedgerError) {
        let entry = Entry(key: key, hash: hash, messageId: messageId, channel: channel, to: to, createdMs: now(),
                          phase: .begun, live: true)
        try append(SendLedgerState.beginRecord(entry))
        state.entries[key] = entry
        state.evictIfFull()
    }

    func handOff(key: String) throws(LedgerError) {
        guard state.entries[key] != nil else { return }
        try append(["op": "handoff", "key": .string(key), "ts": .int(now())])
        state.entries[key]?.phase = .handedOff
    }

    /// Delivered: the entry is done in memory even if the record fails (a rewrite
    /// after recovery then records it; a crash before that leaves it in doubt).
    func complete(key: String, result: JSONValue) throws(LedgerError) {
        guard state.entries[key] != nil else { return }
        state.entries[key]?.phase = .done(result)
        state.entries[key]?.live = false
        try append(["op": "done", "key": .string(key), "ts": .int(now()), "result": result])
        if needsCompaction { try compact() }
    }

    /// Failed without sending anything: forget the key so a retry can send.
    func abort(key: String) throws(LedgerError) {
        guard state.entries.removeValue(forKey: key) != nil else { return }
        try append(["op": "abort", "key": .string(key), "ts": .int(now())])
    }

    /// A failure after the hand-off: keep the entry, but as a dead process would have left it.
    func markInDoubt(key: String) {
        state.entries[key]?.live = false
    }

    /// Makes the ledger able to record again: reads the file if that never
    /// succeeded, then opens it for appending, or rewrites it from memory when
    /// a failure may have left a torn or lost record. True when it can record.
    @discardableResult
    func recover() -> Bool {
        guard fault != nil || fd < 0 else { return true }
        do throws(LedgerError) {
            if !loaded {
                try load()
                loaded = true
                needsRewrite = needsRewrite || state.skippedOnLoad > 0 || needsCompaction
            }
            if needsRewrite { try compact() } else { try openForAppend() }
        } catch {
            setFault(error.description)
            return false
        }
        setFault(nil)
        return true
    }

    // MARK: file

    private var needsCompaction: Bool {
        state.recordCount > compactAfter && state.recordCount > 4 * max(state.entries.count, 1)
    }

    private func setFault(_ cause: String?) {
        guard fault?.cause != cause else { return }
        fault = cause.map { Fault(cause: $0, sinceMs: fault?.sinceMs ?? now()) }
        onFaultChange?(fault)
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
        state.load(data, now: now())
    }

    private func openForAppend() throws(LedgerError) {
        if fd >= 0 { return }
        let existed = access(path, F_OK) == 0
        fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0o600)
        guard fd >= 0 else { throw Self.openError("open", path) }
        if !existed { try syncDirectory() }
    }

    /// Rewrites the file with only live entries: temp file, fsync, rename, fsync the directory.
    func compact() throws(LedgerError) {
        let tmp = path + ".tmp"
        // Whatever sits at the temp name (a leftover, or a symlink someone planted to have
        // its target truncated) is removed, never followed: the file is created fresh.
        if unlink(tmp) != 0 && errno != ENOENT { throw Self.openError("remove", tmp) }
        let tfd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0o600)
        guard tfd >= 0 else { throw Self.openError("create", tmp) }
        let (bytes, n) = state.serialized()
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
            let cause = LedgerError(description: "rename \(tmp): \(String(cString: strerror(errno)))")
            unlink(tmp)
            throw cause
        }
        try syncDirectory()
        if fd >= 0 { close(fd) }
        fd = -1
        state.recordCount = n
        needsRewrite = false
        try openForAppend()
    }

    /// ELOOP from O_NOFOLLOW gets a sentence of its own: the ledger is never a symlink.
    private static func openError(_ verb: String, _ path: String) -> LedgerError {
        let reason = errno == ELOOP ? "it is a symbolic link (remove it; the ledger must be a regular file)"
            : String(cString: strerror(errno))
        return LedgerError(description: "cannot \(verb) \(path): \(reason)")
    }

    /// Writes one record durably, or marks the ledger faulted and throws.
    private func append(_ record: JSONValue) throws(LedgerError) {
        if let fault { throw LedgerError(description: fault.cause) }
        guard fd >= 0 else { throw LedgerError(description: "\(path) is not open") }
        var bytes = record.serialized()
        bytes.append(10)
        do throws(LedgerError) {
            try writeAll(fd, bytes, what: path)
            guard fdatasync(fd) == 0 else { throw LedgerError(description: "fsync \(path): \(String(cString: strerror(errno)))") }
        } catch {
            // Part of the record (or, after a failed fsync, earlier ones) may be lost or torn:
            // stop appending after it and rewrite the whole file once the disk takes it again.
            close(fd)
            fd = -1
            needsRewrite = true
            setFault(error.description)
            throw error
        }
        state.recordCount += 1
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
