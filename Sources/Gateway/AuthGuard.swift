import NetIO

/// Counts failed auth attempts per peer address, so guessing a token over the
/// network is throttled while other peers keep connecting.
struct AuthGuard {
    let failuresPerMinute: Int
    private var failures: [String: [Int64]] = [:]

    init(failuresPerMinute: Int) { self.failuresPerMinute = failuresPerMinute }

    /// Milliseconds until this peer may try again, or nil when it may try now.
    mutating func retryAfter(peer: String, now: Int64) -> Int64? {
        let recent = prune(peer, now)
        guard recent.count >= failuresPerMinute, let oldest = recent.first else { return nil }
        return oldest + 60_000 - now
    }

    mutating func recordFailure(peer: String, now: Int64) {
        var recent = prune(peer, now)
        recent.append(now)
        failures[peer] = recent
        if failures.count > 10_000 { failures = failures.filter { !$0.value.isEmpty } }
    }

    private mutating func prune(_ peer: String, _ now: Int64) -> [Int64] {
        let recent = (failures[peer] ?? []).filter { now - $0 < 60_000 }
        failures[peer] = recent.isEmpty ? nil : recent
        return recent
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
