/// Bounds on the paced IRC send queue: one client's burst would otherwise delay
/// everyone's sends for as long as the flood limit takes to drain it.
enum IRCQueueLimits {
    static let maxLinesPerSender = 100
    static let maxLines = 400

    /// UNAVAILABLE with the time the flood limit needs to make room, when `adding` more lines
    /// would pass the sender's or the global bound (asked before anything is recorded).
    static func refusal(adding lines: Int, senderQueued: Int, totalQueued: Int,
                        floodIntervalMs: Int64) -> ChannelSendError? {
        let overSender = senderQueued + lines - maxLinesPerSender
        let overAll = totalQueued + lines - maxLines
        let excess = max(overSender, overAll)
        guard excess > 0 else { return nil }
        let wait = max(1000, Int64(excess) * floodIntervalMs)
        let whose = overSender >= overAll
            ? "this client already has \(senderQueued) lines queued (at most \(maxLinesPerSender))"
            : "\(totalQueued) lines are queued (at most \(maxLines))"
        return .unavailable("the IRC send queue is full: \(whose); retry after \(wait) ms", retryAfterMs: wait)
    }
}

/// Per channel, the wait before rejoining after a kick: 5 s, doubling to 5 min while
/// kicks keep coming, forgotten 10 min after the last one. Rejoining at once turns an
/// op's auto-kick into a JOIN/KICK loop.
struct KickBackoff {
    static let minMs: Int64 = 5_000
    static let maxMs: Int64 = 300_000
    static let forgetMs: Int64 = 600_000
    private var last: [String: (delayMs: Int64, atMs: Int64)] = [:]

    mutating func nextDelay(channel: String, nowMs: Int64) -> Int64 {
        let key = channel.lowercased()
        var delay = Self.minMs
        if let previous = last[key], nowMs - previous.atMs < Self.forgetMs {
            delay = min(Self.maxMs, previous.delayMs * 2)
        }
        last[key] = (delay, nowMs)
        return delay
    }
}
