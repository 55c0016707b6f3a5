import Glibc

/// `openclaw logs --since/--priority/--grep`: which lines to show. Applied to the journal while
/// reading it directly, and to the `logs.tail` lines ("TIMESTAMP LEVEL message") otherwise.
public struct LogFilter: Sendable, Equatable {
    /// Wall-clock µs; lines before it are left out.
    public var sinceUsec: UInt64 = 0
    /// Journal priority (0 emerg … 7 debug): lines less severe are left out.
    public var maxPriority = 7
    public var grep: String?

    public var isEmpty: Bool { sinceUsec == 0 && maxPriority == 7 && grep == nil }

    /// journalctl's smart case: an all-lowercase pattern ignores case.
    static func regex(_ pattern: String) -> Regex<AnyRegexOutput>? {
        guard let regex = try? Regex(pattern) else { return nil }
        return pattern.contains(where: \.isUppercase) ? regex : regex.ignoresCase()
    }

    /// A matcher over a message and its priority and time, with the regex compiled once.
    func matcher() -> (String, Int, UInt64) -> Bool {
        let regex = grep.flatMap(Self.regex)
        return { message, priority, usec in
            usec >= sinceUsec && priority <= maxPriority && (regex.map { message.contains($0) } ?? true)
        }
    }

    /// A `logs.tail` line: "2026-11-25T21:40:00.123Z WARN message".
    func accepts(line: String, matcher: (String, Int, UInt64) -> Bool) -> Bool {
        let parts = line.split(separator: " ", maxSplits: 2, omittingEmptySubsequences: false)
        guard parts.count == 3 else { return matcher(line, 6, UInt64.max) }
        let priority = Self.labels[String(parts[1])] ?? 6
        let usec = Self.parseTime(String(parts[0])) ?? UInt64.max
        return matcher(String(parts[2]), priority, usec)
    }

    private static let labels = ["EMERG": 0, "ALERT": 1, "CRIT": 2, "ERROR": 3, "WARN": 4, "NOTICE": 5, "INFO": 6,
                                 "DEBUG": 7]

    static func nowUsec() -> UInt64 {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        return UInt64(now.tv_sec) * 1_000_000 + UInt64(now.tv_nsec / 1000)
    }

    /// "10m", "2h", "1d", "30s" ago, or a UTC time "YYYY-MM-DD[ T]HH:MM[:SS[.mmm]][Z]".
    static func parseSince(_ text: String, nowUsec: UInt64) -> UInt64? {
        if let unit = text.last, let n = UInt64(text.dropLast()) {
            let seconds: UInt64? = switch unit {
            case "s": n
            case "m": n * 60
            case "h": n * 3600
            case "d": n * 86_400
            default: nil
            }
            if let seconds { return nowUsec - min(nowUsec, seconds * 1_000_000) }
        }
        return parseTime(text)
    }

    /// UTC "YYYY-MM-DD[ T]HH:MM[:SS[.fff]][Z]" → µs since the epoch.
    static func parseTime(_ text: String) -> UInt64? {
        let digits = text.split(whereSeparator: { !$0.isNumber }).map { Int($0) }
        guard digits.count >= 5, digits.allSatisfy({ $0 != nil }) else { return nil }
        let v = digits.map { $0! }
        var t = tm()
        t.tm_year = Int32(v[0] - 1900)
        t.tm_mon = Int32(v[1] - 1)
        t.tm_mday = Int32(v[2])
        t.tm_hour = Int32(v[3])
        t.tm_min = Int32(v[4])
        t.tm_sec = v.count > 5 ? Int32(v[5]) : 0
        guard (1...12).contains(v[1]), (1...31).contains(v[2]), v[3] < 24, v[4] < 60 else { return nil }
        let seconds = timegm(&t)
        guard seconds >= 0 else { return nil }
        return UInt64(seconds) * 1_000_000
    }
}
