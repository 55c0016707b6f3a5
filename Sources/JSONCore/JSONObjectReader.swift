/// Reads a JSON document that is one object, member by member, without building the
/// object: for frames of which a few members matter (a request's `type`, `id`, `method`
/// and `params`), where the tree of the whole frame would cost more than reading it.
///
/// The grammar, UTF-8 validation and depth limit are `JSONValue.parse`'s (the same parser
/// underneath): a document this reads completely is one `parse` accepts, and the keys and
/// values it yields are the object's members in order. Values the caller does not ask
/// for are still parsed, and so are members after the caller stops asking: `read` only
/// returns once the whole document has been checked.
///
/// The per-member steps are `@inlinable` (and what they use of `JSONParser` is
/// `@usableFromInline`): a reader in another module, such as the request envelope read
/// for every frame, then compiles into one loop instead of a call per key, comparison
/// and string.
public struct JSONObjectReader: ~Copyable {
    @usableFromInline var parser: JSONParser
    @usableFromInline var state: State
    /// The key of the member being read: its bytes in the input, or (set only while the
    /// key has escapes, which the wire hardly ever sees) the decoded key.
    @usableFromInline var keyRange = 0..<0
    @usableFromInline var escapedKey: String?

    @usableFromInline enum State {
        /// At a member's key.
        case atKey
        /// A key was read; its value was not.
        case valuePending
        /// After a member's value.
        case valueRead
        case closed
    }

    private init(_ bytes: UnsafeRawBufferPointer, maxDepth: Int) throws(JSONParseError) {
        parser = JSONParser(bytes, maxDepth: maxDepth)
        state = try parser.openDocumentObject() ? .atKey : .closed
    }

    /// Runs `body` over the object in `bytes`, then reads whatever `body` left, and
    /// checks that nothing but whitespace follows the object. Throws `JSONParseError`
    /// where `parse` would, and for a document that is another value.
    /// (Not generic over a result: callers in other modules would pay for its metadata
    /// at run time; `body` keeps what it reads in its own variables.)
    public static func read(
        _ bytes: [UInt8], maxDepth: Int = 128, _ body: (inout JSONObjectReader) throws(JSONParseError) -> Void
    ) throws(JSONParseError) {
        try read(bytes[...], maxDepth: maxDepth, body)
    }

    /// `read` of a slice (a message lent by the WebSocket parser from its buffer).
    public static func read(
        _ bytes: ArraySlice<UInt8>, maxDepth: Int = 128, _ body: (inout JSONObjectReader) throws(JSONParseError) -> Void
    ) throws(JSONParseError) {
        try bytes.withUnsafeBytes { buffer in
            Result { () throws(JSONParseError) in
                var reader = try JSONObjectReader(buffer, maxDepth: maxDepth)
                try body(&reader)
                while try reader.nextMember() {}
                try reader.parser.endDocument()
            }
        }.get()
    }

    /// Moves to the next member (its key is `key`, its value next); false once the
    /// object is closed. A value that was not read is parsed (and dropped) first.
    @inlinable @inline(__always)
    public mutating func nextMember() throws(JSONParseError) -> Bool {
        switch state {
        case .closed:
            return false
        case .valuePending:
            _ = try parser.parseValue()
            guard try parser.nextMember() else { return closed() }
        case .valueRead:
            guard try parser.nextMember() else { return closed() }
        case .atKey:
            break
        }
        switch try parser.memberKeyScan() {
        case .plain(let range):
            keyRange = range
            if escapedKey != nil { escapedKey = nil }
        case .decoded(let text):
            escapedKey = text
        }
        state = .valuePending
        return true
    }

    /// The current member's key.
    public var key: String { escapedKey ?? parser.makeString(from: keyRange.lowerBound, to: keyRange.upperBound) }

    /// Whether the current member's key is `name` (compared as read: no String is made).
    @inlinable @inline(__always)
    public func keyIs(_ name: StaticString) -> Bool {
        if let escapedKey { return JSONParser.string(escapedKey, equals: name) }
        return parser.bytes(keyRange, equal: name)
    }

    /// The current member's value when it is a string; any other value is parsed and gives nil.
    @inlinable @inline(__always)
    public mutating func stringValue() throws(JSONParseError) -> String? {
        precondition(state == .valuePending, "a member's value is read once, after nextMember()")
        state = .valueRead
        return try parser.stringOrSkip()
    }

    /// Whether the current member's value is the string `literal` (no String is made);
    /// any value is consumed.
    @inlinable @inline(__always)
    public mutating func valueIs(_ literal: StaticString) throws(JSONParseError) -> Bool {
        precondition(state == .valuePending, "a member's value is read once, after nextMember()")
        state = .valueRead
        return try parser.valueIs(literal)
    }

    /// The current member's value, as a tree.
    public mutating func value() throws(JSONParseError) -> JSONValue {
        precondition(state == .valuePending, "a member's value is read once, after nextMember()")
        state = .valueRead
        return try parser.parseValue()
    }

    @inlinable
    mutating func closed() -> Bool {
        state = .closed
        return false
    }
}
