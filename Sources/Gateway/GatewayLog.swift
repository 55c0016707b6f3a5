import Glibc
import GatewayProtocol
import JSONCore
import NetIO
import SystemdKit

/// The gateway's log: journald with structured fields when systemd runs it,
/// readable stderr lines otherwise, and an in-memory ring that `logs.tail`
/// serves from when the journal cannot be read back.
final class GatewayLog {
    static let identifier = "openclaw-gateway"
    /// Longest message written: client text reaches log lines, and one line must not
    /// cost the journal, stderr or the ring more than this.
    static let maxMessageBytes = 8 * 1024

    typealias Entry = LogRing.Entry

    private let toJournal: Bool
    private let verbose: Bool
    private let baseFields: [(String, String)]
    private var ring = LogRing(maxLineBytes: maxMessageBytes)
    private var stderr = StderrSink()
    /// Distinguishes this process's ring cursors from a previous instance's.
    let instance: String

    init(verbose: Bool, profile: String, instance: String, environment: [String: String]) {
        toJournal = Self.journalListens(environment)
        self.verbose = verbose
        self.instance = instance
        baseFields = [("OPENCLAW_PROFILE", profile)]
    }

    var usesJournal: Bool { toJournal }

    /// JOURNAL_STREAM (stderr wired to journald) or INVOCATION_ID (started by systemd)
    /// mean a journal is listening; run by hand, people read stderr.
    static func journalListens(_ environment: [String: String]) -> Bool {
        Journal.isAvailable && (environment["JOURNAL_STREAM"] != nil || environment["INVOCATION_ID"] != nil)
    }

    /// Arguments are only built when `--verbose` is on: this is called on the request hot path.
    func debug(_ message: @autoclosure () -> String, fields: @autoclosure () -> [(String, String)] = []) {
        guard verbose else { return }
        write(.debug, message(), fields())
    }

    func info(_ message: String, fields: [(String, String)] = []) { write(.info, message, fields) }
    func notice(_ message: String, fields: [(String, String)] = []) { write(.notice, message, fields) }
    func warning(_ message: String, fields: [(String, String)] = []) { write(.warning, message, fields) }
    func error(_ message: String, fields: [(String, String)] = []) { write(.error, message, fields) }

    /// Message and field values are escaped (`ControlCharacters`) before they go
    /// anywhere: they carry client text, and a raw CR LF or ESC would forge lines
    /// or drive the terminal of whoever reads the log. The cut comes after the
    /// escaping, so escapes cannot push a message past its bound.
    private func write(_ priority: LogPriority, _ rawMessage: String, _ rawFields: [(String, String)]) {
        let escaped = ControlCharacters.escaped(rawMessage)
        let message = escaped.utf8.count > Self.maxMessageBytes ? LogRing.cut(escaped, to: Self.maxMessageBytes) : escaped
        let fields = rawFields.contains(where: { ControlCharacters.mayContainControls($0.1) })
            ? rawFields.map { ($0.0, ControlCharacters.escaped($0.1)) } : rawFields
        let line = Self.format(priority: priority, message: message, fields: fields)
        ring.append(line)
        if toJournal {
            do {
                try Journal.send(message, priority: priority, identifier: Self.identifier, fields: baseFields + fields)
                return
            } catch {
                // Fall through to stderr: a log line is never lost silently.
            }
        }
        stderr.write(line + "\n")
    }

    /// Ring entries in order, oldest first.
    func ringEntries() -> [Entry] { Array(ring.all) }

    /// `TIME PRIORITY message key=value ...`, each key lowercased without its `OPENCLAW_`
    /// prefix. Built as bytes: every connect logs a line, and string concatenation with
    /// `lowercased()` per key cost more than the rest of the handshake's bookkeeping. Keys
    /// are journal field names, ASCII by journald's rules, so ASCII lowercasing is complete.
    static func format(priority: LogPriority, message: String, fields: [(String, String)]) -> String {
        var line: [UInt8] = []
        line.reserveCapacity(48 + message.utf8.count + fields.count * 40)
        line.append(contentsOf: Timestamp.iso8601(ms: EventLoop.wallClockMs()).utf8)
        line.append(UInt8(ascii: " "))
        line.append(contentsOf: priority.label.utf8)
        line.append(UInt8(ascii: " "))
        line.append(contentsOf: message.utf8)
        for (key, value) in fields {
            line.append(UInt8(ascii: " "))
            let start = line.count
            for byte in key.utf8 { line.append((0x41...0x5A).contains(byte) ? byte | 0x20 : byte) }
            if line[start...].starts(with: fieldPrefix) { line.removeSubrange(start..<start + fieldPrefix.count) }
            line.append(UInt8(ascii: "="))
            line.append(contentsOf: value.utf8)
        }
        return String(decoding: line, as: UTF8.self)
    }

    private static let fieldPrefix = Array("openclaw_".utf8)
}

extension LogPriority {
    var label: String {
        switch self {
        case .emergency: "EMERG"
        case .alert: "ALERT"
        case .critical: "CRIT"
        case .error: "ERROR"
        case .warning: "WARN"
        case .notice: "NOTICE"
        case .info: "INFO"
        case .debug: "DEBUG"
        }
    }
}

/// ISO 8601 timestamps without Foundation.
public enum Timestamp {
    /// "2026-11-25T21:40:00.123Z"
    public static func iso8601(ms: Int64) -> String {
        var seconds = time_t(ms / 1000)
        var t = tm()
        gmtime_r(&seconds, &t)
        func pad(_ v: Int32, _ width: Int) -> String {
            let s = String(v)
            return String(repeating: "0", count: max(0, width - s.count)) + s
        }
        return "\(pad(t.tm_year + 1900, 4))-\(pad(t.tm_mon + 1, 2))-\(pad(t.tm_mday, 2))T"
            + "\(pad(t.tm_hour, 2)):\(pad(t.tm_min, 2)):\(pad(t.tm_sec, 2)).\(pad(Int32(ms % 1000), 3))Z"
    }
}

/// Writes to fd 2 directly: unbuffered, and no shared `FILE*` state under strict concurrency.
func writeStderr(_ text: String) {
    var bytes = Array(text.utf8)
    var offset = 0
    while offset < bytes.count {
        let n = bytes.withUnsafeMutableBytes { Glibc.write(2, $0.baseAddress! + offset, $0.count - offset) }
        if n <= 0 { if n < 0 && errno == EINTR { continue }; return }
        offset += n
    }
}
