import CSystemd
import Glibc

/// syslog(3) priorities, as journald stores them in PRIORITY=.
public enum LogPriority: Int32, Sendable, CaseIterable {
    case emergency = 0, alert, critical, error, warning, notice, info, debug
}

/// Structured logging to journald through its native protocol, so fields like
/// OPENCLAW_PROFILE= can be matched by `journalctl` and by `JournalReader`.
public enum Journal {
    static let socketPath = "/run/systemd/journal/socket"

    /// True when journald's socket is there (/run/systemd/journal/socket) — the gateway then logs
    /// with sd_journal_sendv; otherwise it writes readable stderr lines.
    public static var isAvailable: Bool {
        var info = stat()
        return stat(socketPath, &info) == 0 && (info.st_mode & S_IFMT) == S_IFSOCK
    }

    /// Fields this function sets itself; a caller's copy would make the entry carry two values.
    static let reservedFieldNames: Set<String> = ["MESSAGE", "PRIORITY", "SYSLOG_IDENTIFIER"]

    /// Field names validated per PITFALLS (uppercase, digits, _, not starting with _ or digit,
    /// ≤ 64 chars); invalid ones are dropped, never sent — journald would silently drop them, or
    /// worse, a leading `_` would pose as a trusted field. Adds MESSAGE, PRIORITY, SYSLOG_IDENTIFIER;
    /// caller fields with those names are dropped too. Without journald's socket libsystemd drops
    /// the entry and reports success: check `isAvailable` to choose stderr instead.
    public static func send(
        _ message: String, priority: LogPriority, identifier: String, fields: [(String, String)] = []
    ) throws(SystemdError) {
        var entries = [
            ("MESSAGE", message),
            ("PRIORITY", String(priority.rawValue)),
            ("SYSLOG_IDENTIFIER", identifier),
        ]
        for (name, value) in fields where isValidFieldName(name) && !reservedFieldNames.contains(name) {
            entries.append((name, value))
        }
        try sendv(entries)
    }

    public static func isValidFieldName(_ name: String) -> Bool {
        let bytes = name.utf8
        guard let first = bytes.first, bytes.count <= 64, first != UInt8(ascii: "_") else { return false }
        if (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(first) { return false }
        return bytes.allSatisfy { byte in
            (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte)
                || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
                || byte == UInt8(ascii: "_")
        }
    }

    /// One contiguous buffer of `NAME=value` items and an iovec per item: sd_journal_sendv switches
    /// to its length-prefixed encoding by itself when a value holds a newline.
    private static func sendv(_ entries: [(String, String)]) throws(SystemdError) {
        var buffer: [UInt8] = []
        var ranges: [Range<Int>] = []
        for (name, value) in entries {
            let start = buffer.count
            buffer.append(contentsOf: name.utf8)
            buffer.append(UInt8(ascii: "="))
            buffer.append(contentsOf: value.utf8)
            ranges.append(start..<buffer.count)
        }
        let result = buffer.withUnsafeMutableBytes { raw -> Int32 in
            let iovecs = ranges.map { iovec(iov_base: raw.baseAddress! + $0.lowerBound, iov_len: $0.count) }
            return iovecs.withUnsafeBufferPointer { sd_journal_sendv($0.baseAddress, Int32($0.count)) }
        }
        try check("sd_journal_sendv", result)
    }
}
