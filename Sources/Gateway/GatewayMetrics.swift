import GatewayProtocol

/// The counters behind `GET /metrics`.
///
/// Everything here runs on the loop thread (the gateway is single-threaded), so
/// the counters are plain integers: no atomics, no locks. Per-request work is a
/// few array increments into storage allocated once at start-up (labels are
/// indexes into fixed tables) and a bucket search over a fixed latency table;
/// the text is only built when someone scrapes. A struct, held by the server: one
/// access check per update instead of one per array a class's methods would touch.
struct GatewayMetrics {
    /// `method` label values: the methods served, then `other` for unknown ones.
    static let methodLabels = Methods.all + ["other"]
    static let otherMethod = methodLabels.count - 1
    /// `outcome` label values of a request: `ok`, or the error code it was answered with.
    static let outcomeLabels = ["ok"] + ErrorCode.allCases.map(\.rawValue) + ["other"]
    /// `event` label values.
    static let eventLabels = Events.all + ["other"]
    /// Upper bounds of the latency histogram's buckets, in nanoseconds (`+Inf` is implied):
    /// 50 µs … 10 s, covering a loopback `health` as well as an `agent`'s accepted answer.
    static let bucketBoundsNs: [Int64] = [
        50_000, 100_000, 250_000, 500_000, 1_000_000, 2_500_000, 5_000_000, 10_000_000, 25_000_000,
        50_000_000, 100_000_000, 250_000_000, 500_000_000, 1_000_000_000, 2_500_000_000, 10_000_000_000,
    ]
    static let bucketCount = bucketBoundsNs.count + 1

    /// One row per method: requests by outcome, the latency buckets (not cumulative; summed
    /// when rendered), the latency sum in ns. One array, so `observe` makes one uniqueness
    /// check for its three updates instead of one per array.
    private var perMethod = [UInt64](repeating: 0, count: methodLabels.count * rowWidth)
    private static let outcomeCount = outcomeLabels.count
    private static let rowWidth = outcomeCount + bucketCount + 1
    private(set) var eventsSent = [UInt64](repeating: 0, count: eventLabels.count)

    var connectionsAccepted: UInt64 = 0
    /// Clients closed because their unsent output passed `maxBufferedBytes`.
    var slowConsumerDisconnects: UInt64 = 0
    /// State events (`tick`, `presence`, `health`) skipped for a lagging client.
    var stateEventsSkipped: UInt64 = 0
    /// Frames after hello-ok that were not a valid `req`/`cancel` (answered or logged, connection kept).
    var framesRejected: UInt64 = 0
    var cancelsApplied: UInt64 = 0
    var cancelsIgnored: UInt64 = 0
    /// Rare events, keyed by a short code: a dictionary is fine off the hot path.
    private(set) var authFailures: [String: UInt64] = [:]
    private(set) var agentRuns: [String: UInt64] = [:]
    private(set) var sends: [String: UInt64] = [:]

    /// Index of `name` in `methodLabels` (`other` when unknown); looked up once per registered method.
    static func methodIndex(_ name: String) -> Int {
        Methods.all.firstIndex(of: name) ?? otherMethod
    }

    static func outcomeIndex(errorCode: String?) -> Int {
        guard let errorCode else { return 0 }
        return outcomeLabels.firstIndex(of: errorCode) ?? outcomeLabels.count - 1
    }

    /// One answered request: its outcome and the time from dispatch to its (first) answer.
    mutating func observe(method: Int, outcome: Int, elapsedNs: Int64) {
        var bucket = 0
        while bucket < Self.bucketBoundsNs.count && elapsedNs > Self.bucketBoundsNs[bucket] { bucket += 1 }
        let row = method * Self.rowWidth
        var counts = perMethod.mutableSpan
        counts[row + outcome] &+= 1
        counts[row + Self.outcomeCount + bucket] &+= 1
        counts[row + Self.rowWidth - 1] &+= UInt64(max(0, elapsedNs))
    }

    /// Requests of `method` answered with `outcome` (indexes into the label tables).
    func requests(method: Int, outcome: Int) -> UInt64 { perMethod[method * Self.rowWidth + outcome] }

    /// The latency histogram of `method`, per bucket (not cumulative).
    func latencyBuckets(method: Int) -> ArraySlice<UInt64> {
        let start = method * Self.rowWidth + Self.outcomeCount
        return perMethod[start..<(start + Self.bucketCount)]
    }

    func latencySumNs(method: Int) -> UInt64 { perMethod[(method + 1) * Self.rowWidth - 1] }

    mutating func eventSent(_ name: String, count: Int = 1) {
        eventsSent[Events.all.firstIndex(of: name) ?? Self.eventLabels.count - 1] &+= UInt64(count)
    }

    mutating func authFailed(_ code: String) { authFailures[code, default: 0] &+= 1 }
    mutating func agentRunFinished(_ outcome: String) { agentRuns[outcome, default: 0] &+= 1 }
    mutating func sendFinished(_ outcome: String) { sends[outcome, default: 0] &+= 1 }
}
