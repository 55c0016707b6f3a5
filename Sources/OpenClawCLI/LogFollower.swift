import JSONCore

/// The cursor bookkeeping of `openclaw logs`, apart from the connection, so
/// the no-duplicate/no-loss rules can be tested without a gateway.
///
/// Every poll asks for the lines after the last cursor the gateway returned;
/// a reconnect reuses that cursor, so a gateway restart neither repeats nor
/// skips lines (when the source is the journal, cursors outlive the process).
struct LogFollower {
    private(set) var cursor: String?

    /// What one `logs.tail` answer means for the output.
    struct Batch: Equatable {
        var lines: [String]
        /// Each line's own cursor (empty from a gateway that sends only the page's).
        var cursors: [String]
        var cursor: String?
        /// The gateway did not know our cursor (another instance's memory ring, a vacuumed journal).
        var reset: Bool
        /// Ask again at once: the page was full or cut to `maxBytes`.
        var more: Bool
    }

    /// Lines per poll while following; with `maxBytes` at the protocol's maximum a page rarely gets cut.
    static let pageLimit = 1000
    static let maxBytes = 1_000_000

    /// Continue after a cursor found elsewhere (the journal read directly while the gateway was down).
    mutating func resume(after cursor: String?) {
        if let cursor { self.cursor = cursor }
    }

    /// Parameters of the next poll.
    func params(limit: Int) -> JSONValue {
        var params = JSONObject()
        if let cursor { params["cursor"] = .string(cursor) }
        params["limit"] = .int(Int64(cursor == nil ? limit : Self.pageLimit))
        params["maxBytes"] = .int(Int64(Self.maxBytes))
        return .object(params)
    }

    mutating func accept(_ payload: JSONValue) -> Batch {
        let lines = (payload["lines"]?.arrayValue ?? []).compactMap(\.stringValue)
        let hadCursor = cursor != nil
        if let next = payload["cursor"]?.stringValue, !next.isEmpty { cursor = next }
        let truncated = payload["truncated"]?.boolValue ?? false
        let cursors = (payload["cursors"]?.arrayValue ?? []).compactMap(\.stringValue)
        return Batch(
            lines: lines, cursors: cursors.count == lines.count ? cursors : [], cursor: cursor, reset: hadCursor && (payload["reset"]?.boolValue ?? false),
            more: hadCursor && (truncated || lines.count >= Self.pageLimit))
    }
}
