/// Counts failed auth attempts per peer address over a one-minute window, so a
/// client guessing secrets is told to back off (`AUTH_RATE_LIMITED`) and its
/// failures stop filling the log.
///
/// The guard is consulted only after a secret was found wrong: a correct secret
/// is never refused, so a local process sending wrong tokens from the shared
/// loopback address cannot lock out the real CLI (docs/security.md explains the
/// choice). Memory is bounded: at most `maxPeers` windows, expired ones pruned by
/// time; peers beyond that are not tracked (they still only get refusals).
struct AuthGuard {
    let failuresPerMinute: Int
    static let windowMs: Int64 = 60_000
    static let maxPeers = 4096

    private struct Window {
        var startMs: Int64
        var failures: Int
    }

    private var windows: [String: Window] = [:]
    private var lastSweepMs: Int64?

    init(failuresPerMinute: Int) { self.failuresPerMinute = failuresPerMinute }

    var trackedPeers: Int { windows.count }

    enum Verdict: Equatable {
        /// A plain refusal: the peer is under its limit.
        case refuse
        /// The peer passed its limit with this failure: log it once.
        case startThrottling(retryAfterMs: Int64)
        /// Already throttled: refuse quietly, telling it when to retry.
        case throttled(retryAfterMs: Int64)
    }

    /// Records a failed attempt and says how to answer it.
    mutating func recordFailure(peer: String, now: Int64) -> Verdict {
        var window = windows[peer].flatMap { now - $0.startMs < Self.windowMs ? $0 : nil }
            ?? Window(startMs: now, failures: 0)
        window.failures += 1
        if windows[peer] == nil && windows.count >= Self.maxPeers {
            sweep(now)
            guard windows.count < Self.maxPeers else { return .refuse }
        }
        windows[peer] = window
        guard window.failures > failuresPerMinute else { return .refuse }
        let retry = window.startMs + Self.windowMs - now
        return window.failures == failuresPerMinute + 1 ? .startThrottling(retryAfterMs: retry) : .throttled(retryAfterMs: retry)
    }

    /// Drops expired windows; at most once a second so a full table under attack
    /// costs one pass per second, not one per failure.
    private mutating func sweep(_ now: Int64) {
        if let last = lastSweepMs, now - last < 1000 { return }
        lastSweepMs = now
        windows = windows.filter { now - $0.value.startMs < Self.windowMs }
    }

    /// Compares secrets in time that depends only on their lengths, not on where they differ.
    static func constantTimeEquals(_ a: String, _ b: String) -> Bool {
        let x = Array(a.utf8), y = Array(b.utf8)
        var diff = UInt8(x.count == y.count ? 0 : 1)
        let n = max(x.count, y.count)
        for i in 0..<n {
            diff |= (i < x.count ? x[i] : 0) ^ (i < y.count ? y[i] : 0xFF)
        }
        return diff == 0
    }
}
