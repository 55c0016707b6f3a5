import CSystemd
import Glibc

/// One journal entry as the gateway's `logs` method and the CLI show it. `fields` holds every
/// field of the entry (trusted `_…` ones included) as UTF-8 text, invalid bytes replaced.
public struct JournalLine: Sendable, Equatable {
    public let cursor: String
    public let realtimeUsec: UInt64
    public let priority: Int
    public let message: String
    public let fields: [String: String]

    public init(cursor: String, realtimeUsec: UInt64, priority: Int, message: String, fields: [String: String]) {
        self.cursor = cursor
        self.realtimeUsec = realtimeUsec
        self.priority = priority
        self.message = message
        self.fields = fields
    }
}

/// What `JournalReader.processEvents()` saw, after the wait fd became readable.
public enum JournalChange: Sendable, Equatable {
    case none, appended, filesChanged
}

/// Reads the journal with libsystemd's own matching and cursors, so following survives rotation
/// and restarts of the gateway (a cursor names an entry, not a file offset).
public final class JournalReader {
    private let journal: OpaquePointer

    /// Opens the journal(s) this process may read (sd_journal_open with SD_JOURNAL_LOCAL_ONLY; for
    /// a user service that is its own user journal plus whatever the system journal lets it read)
    /// and adds the matches, e.g. ["SYSLOG_IDENTIFIER=openclaw-gateway", "OPENCLAW_PROFILE=default"].
    /// Matches on different fields are ANDed, repeated fields ORed (sd_journal_add_match(3)).
    public init(matches: [String]) throws(SystemdError) {
        var handle: OpaquePointer? = nil
        try check("sd_journal_open", sd_journal_open(&handle, Int32(SD_JOURNAL_LOCAL_ONLY)))
        guard let handle else { throw SystemdError(call: "sd_journal_open", errno: ENOMEM) }
        // From here on, a throw still runs deinit (every stored property is set), which closes it.
        journal = handle
        for match in matches {
            let result = Array(match.utf8).withUnsafeBytes {
                sd_journal_add_match(handle, $0.baseAddress, $0.count)
            }
            try check("sd_journal_add_match(\(match))", result)
        }
    }

    deinit {
        sd_journal_close(journal)
    }

    /// Bytes of journal files this process can read; 0 means there is nothing to read at all
    /// (no journald, or no permission), which a CLI should say rather than print nothing.
    public func usageBytes() throws(SystemdError) -> UInt64 {
        var bytes: UInt64 = 0
        try check("sd_journal_get_usage", sd_journal_get_usage(journal, &bytes))
        return bytes
    }

    /// The last `limit` entries (oldest first).
    public func tail(limit: Int) throws(SystemdError) -> [JournalLine] {
        try check("sd_journal_seek_tail", sd_journal_seek_tail(journal))
        var lines: [JournalLine] = []
        while lines.count < limit, try check("sd_journal_previous", sd_journal_previous(journal)) > 0 {
            lines.append(try currentLine())
        }
        return lines.reversed()
    }

    /// The last `limit` entries that `keep` accepts, none older than `notBeforeUsec` (oldest first):
    /// walks back from the tail, so a filter that matches rarely still ends at the time bound.
    public func tail(limit: Int, notBeforeUsec: UInt64, where keep: (JournalLine) -> Bool) throws(SystemdError)
        -> [JournalLine]
    {
        try check("sd_journal_seek_tail", sd_journal_seek_tail(journal))
        var lines: [JournalLine] = []
        while lines.count < limit, try check("sd_journal_previous", sd_journal_previous(journal)) > 0 {
            let line = try currentLine()
            if line.realtimeUsec < notBeforeUsec { break }
            if keep(line) { lines.append(line) }
        }
        return lines.reversed()
    }

    /// Entries strictly after `cursor` (sd_journal_seek_cursor + sd_journal_test_cursor to skip the
    /// entry itself), up to limit; `reset` true when the cursor is no longer in the journal
    /// (rotated/vacuumed) and reading restarted at the tail.
    ///
    /// When nothing follows the cursor's position its entry cannot be tested; that is reported as
    /// no reset, and a vanished entry shows up as a reset once newer entries arrive.
    public func after(cursor: String, limit: Int) throws(SystemdError) -> (lines: [JournalLine], reset: Bool) {
        let seek = cursor.withCString { sd_journal_seek_cursor(journal, $0) }
        try check("sd_journal_seek_cursor", seek)
        guard try next() else { return ([], false) }
        let found = cursor.withCString { sd_journal_test_cursor(journal, $0) }
        guard try check("sd_journal_test_cursor", found) > 0 else { return (try tail(limit: limit), true) }
        var lines: [JournalLine] = []
        while lines.count < limit, try next() {
            lines.append(try currentLine())
        }
        return (lines, false)
    }

    /// An inotify-backed fd for the caller's epoll loop: when it is readable, call `processEvents()`
    /// and then `after(cursor:limit:)` with the last cursor seen.
    public func waitDescriptor() throws(SystemdError) -> Int32 {
        try check("sd_journal_get_fd", sd_journal_get_fd(journal))
    }

    public func processEvents() throws(SystemdError) -> JournalChange {
        switch try check("sd_journal_process", sd_journal_process(journal)) {
        case Int32(SD_JOURNAL_APPEND): return .appended
        case Int32(SD_JOURNAL_INVALIDATE): return .filesChanged
        default: return .none
        }
    }

    private func next() throws(SystemdError) -> Bool {
        try check("sd_journal_next", sd_journal_next(journal)) > 0
    }

    private func currentLine() throws(SystemdError) -> JournalLine {
        var cursorPointer: UnsafeMutablePointer<CChar>? = nil
        try check("sd_journal_get_cursor", sd_journal_get_cursor(journal, &cursorPointer))
        let cursor = cursorPointer.map { String(cString: $0) } ?? ""
        free(cursorPointer)

        var realtime: UInt64 = 0
        try check("sd_journal_get_realtime_usec", sd_journal_get_realtime_usec(journal, &realtime))

        var fields: [String: String] = [:]
        var data: UnsafeRawPointer? = nil
        var length = 0
        sd_journal_restart_data(journal)
        // The "available" variant skips fields it cannot decompress instead of failing the entry.
        while try check("sd_journal_enumerate_available_data", sd_journal_enumerate_available_data(journal, &data, &length)) > 0 {
            guard let data else { continue }
            let bytes = UnsafeRawBufferPointer(start: data, count: length)
            guard let equals = bytes.firstIndex(of: UInt8(ascii: "=")) else { continue }
            let name = String(decoding: bytes[..<equals], as: UTF8.self)
            fields[name] = String(decoding: bytes[(equals + 1)...], as: UTF8.self)
        }
        return JournalLine(
            cursor: cursor,
            realtimeUsec: realtime,
            priority: fields["PRIORITY"].flatMap { Int($0) } ?? Int(LogPriority.info.rawValue),
            message: fields["MESSAGE"] ?? "",
            fields: fields
        )
    }
}

@available(*, unavailable, message: "sd_journal handles are not thread-safe: use one reader per thread")
extension JournalReader: Sendable {}
