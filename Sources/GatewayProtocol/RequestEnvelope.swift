import JSONCore

/// A `req` frame's envelope as the gateway reads it on every request.
public struct RequestEnvelope: Sendable, Equatable {
    public var id: String
    public var method: String
    /// The `params` member (any JSON value, `null` included); nil when absent.
    public var params: JSONValue?

    public init(id: String, method: String, params: JSONValue?) {
        self.id = id
        self.method = method
        self.params = params
    }

    /// Reads a well-formed request without building the frame's tree (the per-request
    /// hot path): `type`, `id` and `method` as strings, `params` as a tree, every other
    /// member parsed and dropped; the first of duplicate members counts, as in `JSONObject`.
    ///
    /// Nil for anything else (invalid JSON, another frame type, a member of the wrong
    /// type, an empty id or method): the caller then reads the frame the full way,
    /// `Frame(json: JSONValue.parse(bytes))`, which names what is wrong. Whatever this
    /// returns, that way returns as `.request` too (checked by the tests and JSONReaderFuzz).
    public init?(reading bytes: [UInt8]) {
        self.init(reading: bytes[...])
    }

    /// `init(reading:)` of a message lent by the WebSocket parser (a slice of its buffer),
    /// borrowed: reading it takes no reference of its own.
    public init?(reading bytes: borrowing ArraySlice<UInt8>) {
        // Whether each member was seen (the first counts); id and method stay nil when they
        // are not strings. Plain optionals, not nested ones: unwrapping moves, not copies.
        var seenType = false, seenId = false, seenMethod = false
        var isRequest = false, id: String?, method: String?, params: JSONValue?
        do {
            try JSONObjectReader.read(bytes) { reader throws(JSONParseError) in
                while try reader.nextMember() {
                    if reader.keyIs("type") {
                        if !seenType { (seenType, isRequest) = (true, try reader.valueIs("req")) }
                    } else if reader.keyIs("id") {
                        if !seenId { (seenId, id) = (true, try reader.stringValue()) }
                    } else if reader.keyIs("method") {
                        if !seenMethod { (seenMethod, method) = (true, try reader.stringValue()) }
                    } else if reader.keyIs("params") {
                        if params == nil { params = try reader.value() }
                    }  // anything else: read and dropped by the next nextMember()
                }
            }
        } catch {
            return nil
        }
        guard isRequest, let id, !id.isEmpty, let method, !method.isEmpty else { return nil }
        self.init(id: id, method: method, params: params)
    }

    /// The members, moved out for the caller to hand on (no copy of the strings).
    public consuming func parts() -> (id: String, method: String, params: JSONValue?) {
        (id, method, params)
    }
}
