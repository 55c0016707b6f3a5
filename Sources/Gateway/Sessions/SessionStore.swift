import Glibc
import JSONCore
import NetIO

/// The gateway's sessions and their transcripts, in `<stateDir>/sessions/`:
/// one JSON-lines file per session (`SessionKey.fileName`), one turn per line,
/// `{"role":"user"|"assistant","text":…,"ts":…}` (user turns in a group also
/// carry `"from"`), oldest first. That file is also what an agent backend reads
/// as `OPENCLAW_SESSION_FILE`, so it is written only between turns of its session
/// (turns of one session never overlap).
///
/// Every append is fsynced before the turn counts as finished. A transcript is
/// bounded: when an append would take it past `maxTranscriptBytes`, the file
/// moves to `<name>.1` (replacing the previous generation) and the new file
/// starts with the newest turns that fit a quarter of the budget, so the
/// backend keeps some context. Lines that do not parse (a torn tail after a
/// crash) are skipped on read.
final class SessionStore {
    struct Turn: Equatable {
        var role: String
        var text: String
        var ts: Int64
        /// Who spoke, for user turns in a group conversation.
        var from: String?

        var json: JSONValue {
            var o = JSONObject()
            o["role"] = .string(role)
            o["text"] = .string(text)
            o["ts"] = .int(ts)
            if let from { o["from"] = .string(from) }
            return .object(o)
        }

        init(role: String, text: String, ts: Int64, from: String? = nil) {
            self.role = role
            self.text = text
            self.ts = ts
            self.from = from
        }

        init?(_ v: JSONValue) {
            guard let role = v["role"]?.stringValue, let text = v["text"]?.stringValue, let ts = v["ts"]?.intValue else { return nil }
            self.init(role: role, text: text, ts: ts, from: v["from"]?.stringValue)
        }
    }

    struct Summary: Equatable {
        var key: String
        var updatedMs: Int64
        var bytes: Int

        var json: JSONValue {
            var o = JSONObject()
            o["key"] = .string(key)
            if let route = SessionKey.route(of: key) {
                o["kind"] = .string(route.isGroup ? "group" : "direct")
                o["channel"] = .string(route.channel)
                o["to"] = .string(route.to)
            } else {
                o["kind"] = "other"
            }
            o["updatedAt"] = .int(updatedMs)
            o["transcriptBytes"] = .int(Int64(bytes))
            return .object(o)
        }
    }

    static let directoryName = "sessions"
    let directory: String
    let maxTranscriptBytes: Int
    private let now: () -> Int64
    private var summaries: [String: Summary] = [:] { didSet { revision &+= 1 } }
    /// Bumped on every change to the list of sessions, so what is derived from it can be cached
    /// (`health.sessions`, built once per change rather than once per `health` request).
    private(set) var revision: UInt64 = 0

    /// Why the store cannot be used, and since when (wall-clock ms); nil when it can.
    /// Set when the directory cannot be created or listed (a read-only or full state
    /// dir), or a transcript write fails (ENOSPC, EIO): the gateway still starts and
    /// serves, `health` shows it (`storage.sessions`), and `reopen()` is retried until
    /// a durable write works again; a successful transcript write clears it too.
    private(set) var fault: (cause: String, sinceMs: Int64)?

    /// Opens (creating it 0700) `<stateDir>/sessions` and lists the transcripts in it.
    init(stateDir: String, maxTranscriptBytes: Int = 1 << 20, now: @escaping () -> Int64 = EventLoop.wallClockMs)
        throws(SystemCallError)
    {
        directory = stateDir + "/" + Self.directoryName
        self.maxTranscriptBytes = maxTranscriptBytes
        self.now = now
        try scan()
    }

    /// A store whose directory could not be opened: empty and faulted until `reopen()` succeeds.
    init(unavailable stateDir: String, cause: String, maxTranscriptBytes: Int = 1 << 20,
         now: @escaping () -> Int64 = EventLoop.wallClockMs) {
        directory = stateDir + "/" + Self.directoryName
        self.maxTranscriptBytes = maxTranscriptBytes
        self.now = now
        fault = (cause, now())
    }

    /// Called when `fault` appears, changes or clears (for `health` and the retries).
    var onFaultChange: (() -> Void)?

    /// Tries the store again: lists the directory and makes one durable write there
    /// (temp file, fsync, rename), so a full or failing disk counts as recovered only
    /// once it takes writes again. True (and no fault) when it does.
    func reopen() -> Bool {
        guard fault != nil else { return true }
        do {
            try recording { () throws(SystemCallError) in
                try scan()
                let probe = directory + "/.write-probe"
                try DurableFile.replace(probe, with: [10])
                unlink(probe)
            }
            return true
        } catch {
            return false
        }
    }

    /// Runs a write: its failure becomes the store's fault, a success clears it.
    private func recording<T>(_ body: () throws(SystemCallError) -> T) throws(SystemCallError) -> T {
        do {
            let value = try body()
            setFault(nil)
            return value
        } catch {
            setFault(error.description)
            throw error
        }
    }

    private func setFault(_ cause: String?) {
        guard fault?.cause != cause else { return }
        fault = cause.map { ($0, fault?.sinceMs ?? now()) }
        onFaultChange?()
    }

    private func scan() throws(SystemCallError) {
        if mkdir(directory, 0o700) != 0 && errno != EEXIST { throw SystemCallError("mkdir \(directory)") }
        guard let dir = opendir(directory) else { throw SystemCallError("opendir \(directory)") }
        defer { closedir(dir) }
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
            }
            guard let key = SessionKey.key(fromFileName: name) else { continue }
            var st = stat()
            guard stat(directory + "/" + name, &st) == 0 else { continue }
            summaries[key] = Summary(key: key, updatedMs: Int64(st.st_mtim.tv_sec) * 1000 + Int64(st.st_mtim.tv_nsec) / 1_000_000,
                                     bytes: Int(st.st_size))
        }
    }

    var count: Int { summaries.count }

    /// The most recently updated sessions first.
    func recent(limit: Int = .max) -> [Summary] {
        Array(summaries.values.sorted { ($0.updatedMs, $0.key) > ($1.updatedMs, $1.key) }.prefix(limit))
    }

    func summary(_ key: String) -> Summary? { summaries[key] }

    func transcriptPath(_ key: String) -> String { directory + "/" + SessionKey.fileName(key) }

    /// Creates the session's (empty) transcript if it has none, so a backend's
    /// `OPENCLAW_SESSION_FILE` always names a readable file.
    func ensure(_ key: String) throws(SystemCallError) {
        guard summaries[key] == nil else { return }
        let path = transcriptPath(key)
        try recording { () throws(SystemCallError) in try DurableFile.append(path, []) }
        DurableFile.syncDirectory(of: path)
        summaries[key] = Summary(key: key, updatedMs: now(), bytes: 0)
    }

    /// The last `limit` turns, oldest first.
    func history(_ key: String, limit: Int) throws(SystemCallError) -> [Turn] {
        guard let bytes = try DurableFile.read(transcriptPath(key)) else { return [] }
        let turns = Self.parse(bytes)
        return Array(turns.suffix(max(0, limit)))
    }

    /// Appends turns durably (rotating first when the transcript would outgrow its bound).
    func append(_ key: String, _ turns: [Turn]) throws(SystemCallError) {
        try recording { () throws(SystemCallError) in try write(key, turns) }
    }

    private func write(_ key: String, _ turns: [Turn]) throws(SystemCallError) {
        guard !turns.isEmpty else { return }
        var bytes: [UInt8] = []
        for turn in turns {
            turn.json.serialize(into: &bytes)
            bytes.append(10)
        }
        let path = transcriptPath(key)
        let size = summaries[key]?.bytes ?? 0
        let newSize = try recording { () throws(SystemCallError) -> Int in
            if size > 0 && size + bytes.count > maxTranscriptBytes {
                let kept = try carryOver(path)
                guard rename(path, path + ".1") == 0 else { throw SystemCallError("rename \(path)") }
                try DurableFile.replace(path, with: kept + bytes)
                return kept.count + bytes.count
            }
            let created = summaries[key] == nil
            try DurableFile.append(path, bytes)
            if created { DurableFile.syncDirectory(of: path) }
            return size + bytes.count
        }
        summaries[key] = Summary(key: key, updatedMs: now(), bytes: newSize)
    }

    /// The newest whole lines of the transcript that fit a quarter of the budget.
    private func carryOver(_ path: String) throws(SystemCallError) -> [UInt8] {
        guard let old = try DurableFile.read(path) else { return [] }
        let budget = maxTranscriptBytes / 4
        var start = old.count
        // Walk back line by line (each line ends with \n) while the tail still fits.
        var i = old.count - 1
        while i > 0 {
            guard let nl = old[..<i].lastIndex(of: 10) else {
                if old.count <= budget { start = 0 }
                break
            }
            if old.count - (nl + 1) > budget { break }
            start = nl + 1
            i = nl
        }
        return Array(old[start...])
    }

    static func parse(_ bytes: [UInt8]) -> [Turn] {
        var turns: [Turn] = []
        var start = 0
        while start < bytes.count {
            let end = bytes[start...].firstIndex(of: 10) ?? bytes.count
            if end > start, let value = try? JSONValue.parse(bytes[start..<end]), let turn = Turn(value) { turns.append(turn) }
            start = end + 1
        }
        return turns
    }
}
