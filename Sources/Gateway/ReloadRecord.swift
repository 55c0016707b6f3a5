import JSONCore

/// What the last configuration reload (SIGHUP) did, as `status` reports it under `reload`:
/// `{count, at, ok, error?}`. `count` counts reloads since start, so a caller that read it
/// before asking systemd for a reload knows when *its* reload has been handled.
struct ReloadRecord: Sendable {
    private(set) var count = 0
    private(set) var atMs: Int64 = 0
    /// The config error (file, line, column and what is wrong), nil when the reload applied.
    private(set) var error: String?

    mutating func record(error: String?, atMs: Int64) {
        count += 1
        self.atMs = atMs
        self.error = error
    }

    var json: JSONValue {
        var o = JSONObject()
        o["count"] = .int(Int64(count))
        o["at"] = .string(Timestamp.iso8601(ms: atMs))
        o["ok"] = .bool(error == nil)
        if let error { o["error"] = .string(error) }
        return .object(o)
    }
}
