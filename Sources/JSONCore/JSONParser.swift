import UTF8Rules

extension JSONValue {
    /// Parses exactly one RFC 8259 JSON value (optionally surrounded by
    /// whitespace), refusing anything the RFC does not allow.
    ///
    /// Integers that fit `Int64` become `.int`; every other number becomes a
    /// finite `.double` (numbers beyond the `Double` range are refused rather
    /// than turned into infinity, which JSON cannot represent on the way out).
    /// `maxDepth` bounds both nesting and the parser's recursion, so hostile
    /// input cannot overflow the stack.
    public static func parse(_ bytes: UnsafeRawBufferPointer, maxDepth: Int = 128) throws(JSONParseError) -> JSONValue {
        var parser = JSONParser(bytes, maxDepth: maxDepth)
        return try parser.parseDocument()
    }

    public static func parse(_ bytes: [UInt8], maxDepth: Int = 128) throws(JSONParseError) -> JSONValue {
        try bytes.withUnsafeBytes { buffer in
            Result { () throws(JSONParseError) in try parse(buffer, maxDepth: maxDepth) }
        }.get()
    }

    /// For payloads sliced out of a larger receive buffer without copying.
    public static func parse(_ bytes: ArraySlice<UInt8>, maxDepth: Int = 128) throws(JSONParseError) -> JSONValue {
        try bytes.withUnsafeBytes { buffer in
            Result { () throws(JSONParseError) in try parse(buffer, maxDepth: maxDepth) }
        }.get()
    }

    public static func parse(_ text: String, maxDepth: Int = 128) throws(JSONParseError) -> JSONValue {
        var text = text
        return try text.withUTF8 { buffer in
            Result { () throws(JSONParseError) in try parse(UnsafeRawBufferPointer(buffer), maxDepth: maxDepth) }
        }.get()
    }
}

/// Recursive descent over raw bytes. Indices are plain `Int`s into `bytes`;
/// every read is guarded by an explicit `index < end` check, so the buffer is
/// never touched out of bounds.
@usableFromInline
struct JSONParser {
    @usableFromInline let bytes: UnsafeRawBufferPointer
    @usableFromInline let end: Int
    @usableFromInline var index = 0
    @usableFromInline let maxDepth: Int
    @usableFromInline var depth = 0
    /// Reused across strings that contain escapes, so only the first escaped
    /// string of a document allocates a decode buffer.
    @usableFromInline var scratch: [UInt8] = []

    init(_ bytes: UnsafeRawBufferPointer, maxDepth: Int) {
        self.bytes = bytes
        self.end = bytes.count
        self.maxDepth = maxDepth
    }

    mutating func parseDocument() throws(JSONParseError) -> JSONValue {
        skipWhitespace()
        let value = try parseValue()
        try endDocument()
        return value
    }

    /// After the top-level value: only whitespace may follow.
    mutating func endDocument() throws(JSONParseError) {
        skipWhitespace()
        guard index == end else {
            throw unexpected(at: index, "unexpected \(describeRaw(index)) after the top-level value")
        }
    }

    // MARK: - Values

    @usableFromInline
    mutating func parseValue() throws(JSONParseError) -> JSONValue {
        guard index < end else { throw error("unexpected end of input: expected a value", at: index) }
        switch bytes[index] {
        case UInt8(ascii: "\""): return .string(try parseString())
        case UInt8(ascii: "{"): return try parseObject()
        case UInt8(ascii: "["): return try parseArray()
        case UInt8(ascii: "t"): try expectLiteral("true"); return .bool(true)
        case UInt8(ascii: "f"): try expectLiteral("false"); return .bool(false)
        case UInt8(ascii: "n"): try expectLiteral("null"); return .null
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return try parseNumber()
        default: throw unexpectedValueStart()
        }
    }

    mutating func parseObject() throws(JSONParseError) -> JSONValue {
        guard try openObject() else { return .object(JSONObject()) }
        var entries: [(key: String, value: JSONValue)] = []
        // Frames have a handful of members; one right-sized allocation beats
        // the 1 → 2 → 4 growth sequence.
        entries.reserveCapacity(4)
        repeat {
            let key = try memberKey()
            entries.append((key, try parseValue()))
        } while try nextMember()
        return .object(JSONObject(entries))
    }

    // The steps of an object, shared with `JSONObjectReader`, which walks one member by member.

    /// The start of a document that must be an object: `openObject` at its `{`.
    mutating func openDocumentObject() throws(JSONParseError) -> Bool {
        skipWhitespace()
        guard index < end, bytes[index] == UInt8(ascii: "{") else { throw expected("'{' (an object)", at: index) }
        return try openObject()
    }

    /// At `{`: enters it; false (and already closed) when it is empty.
    mutating func openObject() throws(JSONParseError) -> Bool {
        try enterContainer()
        index += 1
        skipWhitespace()
        if index < end, bytes[index] == UInt8(ascii: "}") {
            index += 1
            depth -= 1
            return false
        }
        return true
    }

    /// A member's key and the `:` after it; leaves the index at its value.
    mutating func memberKey() throws(JSONParseError) -> String {
        string(of: try memberKeyScan())
    }

    /// `memberKey` without making a String of a key that has no escapes.
    @inlinable @inline(__always)
    mutating func memberKeyScan() throws(JSONParseError) -> ScannedString {
        guard index < end, bytes[index] == UInt8(ascii: "\"") else {
            throw expected("string key", at: index)
        }
        let key = try scanDecoding()
        skipWhitespace()
        guard index < end, bytes[index] == UInt8(ascii: ":") else {
            throw expected("':' after object key", at: index)
        }
        index += 1
        skipWhitespace()
        return key
    }

    /// A string read without making a String of it unless it has escapes (rare on the wire).
    @usableFromInline enum ScannedString {
        /// No escapes: the string is these input bytes.
        case plain(Range<Int>)
        case decoded(String)
    }

    /// At a string's opening quote: reads it (index past its closing quote).
    @inlinable @inline(__always)
    mutating func scanDecoding() throws(JSONParseError) -> ScannedString {
        switch try scanString() {
        case .plain(let range): return .plain(range)
        case .escaped(let start, let firstEscape): return .decoded(try parseEscapedString(start: start, firstEscape: firstEscape))
        }
    }

    func string(of scanned: ScannedString) -> String {
        switch scanned {
        case .plain(let range): return makeString(from: range.lowerBound, to: range.upperBound)
        case .decoded(let text): return text
        }
    }

    /// Whether the input bytes in `range` are `literal`.
    @inlinable @inline(__always)
    func bytes(_ range: Range<Int>, equal literal: StaticString) -> Bool {
        let count = literal.utf8CodeUnitCount
        guard range.count == count else { return false }
        let expected = literal.utf8Start
        for k in 0..<count where bytes[range.lowerBound &+ k] != expected[k] { return false }
        return true
    }

    @usableFromInline
    static func string(_ text: String, equals literal: StaticString) -> Bool {
        text.utf8.elementsEqual(UnsafeBufferPointer(start: literal.utf8Start, count: literal.utf8CodeUnitCount))
    }

    /// After a member's value: true at `,` (another member follows), false at `}` (closed).
    @inlinable @inline(__always)
    mutating func nextMember() throws(JSONParseError) -> Bool {
        skipWhitespace()
        guard index < end else { throw expected("',' or '}' after object member", at: index) }
        switch bytes[index] {
        case UInt8(ascii: ","):
            index += 1
            skipWhitespace()
            if index < end, bytes[index] == UInt8(ascii: "}") {
                throw error("trailing comma before '}'", at: index)
            }
            return true
        case UInt8(ascii: "}"):
            index += 1
            depth -= 1
            return false
        default:
            throw expected("',' or '}' after object member", at: index)
        }
    }

    /// A value that is a string, read as one; anything else is parsed (validated) and dropped.
    @inlinable @inline(__always)
    mutating func stringOrSkip() throws(JSONParseError) -> String? {
        guard index < end, bytes[index] == UInt8(ascii: "\"") else {
            _ = try parseValue()
            return nil
        }
        return try parseString()
    }

    /// Whether the value is the string `literal` (read without making a String); any
    /// value is consumed.
    @inlinable @inline(__always)
    mutating func valueIs(_ literal: StaticString) throws(JSONParseError) -> Bool {
        guard index < end, bytes[index] == UInt8(ascii: "\"") else {
            _ = try parseValue()
            return false
        }
        switch try scanDecoding() {
        case .plain(let range): return bytes(range, equal: literal)
        case .decoded(let text): return Self.string(text, equals: literal)
        }
    }

    mutating func parseArray() throws(JSONParseError) -> JSONValue {
        try enterContainer()
        defer { depth -= 1 }
        index += 1
        skipWhitespace()
        if index < end, bytes[index] == UInt8(ascii: "]") {
            index += 1
            return .array([])
        }
        var elements: [JSONValue] = []
        elements.reserveCapacity(4)
        while true {
            elements.append(try parseValue())
            skipWhitespace()
            guard index < end else { throw expected("',' or ']' after array element", at: index) }
            switch bytes[index] {
            case UInt8(ascii: ","):
                index += 1
                skipWhitespace()
                if index < end, bytes[index] == UInt8(ascii: "]") {
                    throw error("trailing comma before ']'", at: index)
                }
            case UInt8(ascii: "]"):
                index += 1
                return .array(elements)
            default:
                throw expected("',' or ']' after array element", at: index)
            }
        }
    }

    mutating func enterContainer() throws(JSONParseError) {
        depth += 1
        guard depth <= maxDepth else {
            throw error("nesting deeper than \(maxDepth) levels", at: index)
        }
    }

    mutating func expectLiteral(_ literal: StaticString) throws(JSONParseError) {
        let count = literal.utf8CodeUnitCount
        let start = literal.utf8Start
        for k in 0..<count where index + k >= end || bytes[index + k] != start[k] {
            throw error("invalid literal, expected '\(literal)'", at: index)
        }
        index += count
    }

    @inlinable @inline(__always)
    mutating func skipWhitespace() {
        while index < end {
            switch bytes[index] {
            case UInt8(ascii: " "), UInt8(ascii: "\n"), UInt8(ascii: "\r"), UInt8(ascii: "\t"): index += 1
            default: return
            }
        }
    }

    // MARK: - Errors

    @usableFromInline
    func error(_ message: String, at offset: Int) -> JSONParseError {
        JSONParseError(message, at: offset, in: bytes)
    }

    @usableFromInline
    func expected(_ what: String, at offset: Int) -> JSONParseError {
        if offset == end { return error("unexpected end of input: expected \(what)", at: offset) }
        return unexpected(at: offset, "expected \(what)")
    }

    @usableFromInline
    func controlCharacter(at offset: Int) -> JSONParseError {
        error("unescaped control character U+\(hex(UInt16(bytes[offset]))) in string", at: offset)
    }

    func unexpectedValueStart() -> JSONParseError {
        let byte = bytes[index]
        if index == 0, end >= 3, bytes[0] == 0xEF, bytes[1] == 0xBB, bytes[2] == 0xBF {
            return error("byte order mark is not allowed", at: index)
        }
        if byte == UInt8(ascii: "]") || byte == UInt8(ascii: "}") || byte == UInt8(ascii: ",") {
            return error("expected a value before '\(Character(Unicode.Scalar(byte)))'", at: index)
        }
        return unexpected(at: index, "unexpected \(describeRaw(index)), expected a value")
    }

    /// Hand-edited config files most often break on comments, so name that
    /// rather than the generic `message`.
    func unexpected(at offset: Int, _ message: String) -> JSONParseError {
        bytes[offset] == UInt8(ascii: "/") ? error("comments are not allowed", at: offset) : error(message, at: offset)
    }

    func describeRaw(_ offset: Int) -> String {
        let byte = bytes[offset]
        return (0x21..<0x7F).contains(byte) ? "'\(Character(Unicode.Scalar(byte)))'" : "byte 0x\(hex(UInt16(byte)).suffix(2))"
    }

    func hex(_ value: UInt16) -> String {
        let digits = String(value, radix: 16, uppercase: true)
        return String(repeating: "0", count: 4 - digits.count) + digits
    }
}
