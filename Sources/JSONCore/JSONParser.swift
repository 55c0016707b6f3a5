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
struct JSONParser {
    private let bytes: UnsafeRawBufferPointer
    private let end: Int
    private var index = 0
    private let maxDepth: Int
    private var depth = 0
    /// Reused across strings that contain escapes, so only the first escaped
    /// string of a document allocates a decode buffer.
    private var scratch: [UInt8] = []

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

    private mutating func parseObject() throws(JSONParseError) -> JSONValue {
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
    enum ScannedString {
        /// No escapes: the string is these input bytes.
        case plain(Range<Int>)
        case decoded(String)
    }

    /// At a string's opening quote: reads it (index past its closing quote).
    private mutating func scanDecoding() throws(JSONParseError) -> ScannedString {
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

    func scanned(_ scanned: ScannedString, equals literal: StaticString) -> Bool {
        let count = literal.utf8CodeUnitCount
        let expected = literal.utf8Start
        switch scanned {
        case .plain(let range):
            guard range.count == count else { return false }
            for k in 0..<count where bytes[range.lowerBound &+ k] != expected[k] { return false }
            return true
        case .decoded(let text):
            return text.utf8.elementsEqual(UnsafeBufferPointer(start: expected, count: count))
        }
    }

    /// After a member's value: true at `,` (another member follows), false at `}` (closed).
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
    mutating func stringOrSkip() throws(JSONParseError) -> String? {
        guard index < end, bytes[index] == UInt8(ascii: "\"") else {
            _ = try parseValue()
            return nil
        }
        return try parseString()
    }

    /// Whether the value is the string `literal` (read without making a String); any
    /// value is consumed.
    mutating func valueIs(_ literal: StaticString) throws(JSONParseError) -> Bool {
        guard index < end, bytes[index] == UInt8(ascii: "\"") else {
            _ = try parseValue()
            return false
        }
        return scanned(try scanDecoding(), equals: literal)
    }

    private mutating func parseArray() throws(JSONParseError) -> JSONValue {
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

    private mutating func enterContainer() throws(JSONParseError) {
        depth += 1
        guard depth <= maxDepth else {
            throw error("nesting deeper than \(maxDepth) levels", at: index)
        }
    }

    private mutating func expectLiteral(_ literal: StaticString) throws(JSONParseError) {
        let count = literal.utf8CodeUnitCount
        let start = literal.utf8Start
        for k in 0..<count where index + k >= end || bytes[index + k] != start[k] {
            throw error("invalid literal, expected '\(literal)'", at: index)
        }
        index += count
    }

    @inline(__always)
    private mutating func skipWhitespace() {
        while index < end {
            switch bytes[index] {
            case UInt8(ascii: " "), UInt8(ascii: "\n"), UInt8(ascii: "\r"), UInt8(ascii: "\t"): index += 1
            default: return
            }
        }
    }

    // MARK: - Strings

    /// Called at the opening quote. Strings without escapes (nearly all of
    /// them on the wire) are validated in one pass and copied into a String
    /// once; escapes divert to `parseEscapedString`.
    private mutating func parseString() throws(JSONParseError) -> String {
        switch try scanString() {
        case .plain(let range): return makeString(from: range.lowerBound, to: range.upperBound)
        case .escaped(let start, let firstEscape): return try parseEscapedString(start: start, firstEscape: firstEscape)
        }
    }

    enum StringScan {
        /// No escapes: the string is these input bytes (validated; the index is past its closing quote).
        case plain(Range<Int>)
        /// An escape at `firstEscape`: `parseEscapedString` decodes it (the index has not moved).
        case escaped(start: Int, firstEscape: Int)
    }

    /// At a string's opening quote: validates up to its end or its first escape.
    private mutating func scanString() throws(JSONParseError) -> StringScan {
        let start = index + 1
        var cursor = start
        while cursor < end {
            let byte = bytes[cursor]
            if byte == UInt8(ascii: "\"") {
                index = cursor + 1
                return .plain(start..<cursor)
            } else if byte == UInt8(ascii: "\\") {
                return .escaped(start: start, firstEscape: cursor)
            } else if byte < 0x20 {
                throw controlCharacter(at: cursor)
            } else if byte < 0x80 {
                cursor += 1
            } else {
                cursor = try skipUTF8Sequence(at: cursor)
            }
        }
        throw error("unterminated string", at: index)
    }

    private mutating func parseEscapedString(start: Int, firstEscape: Int) throws(JSONParseError) -> String {
        scratch.removeAll(keepingCapacity: true)
        scratch.append(contentsOf: bytes[start..<firstEscape])
        var cursor = firstEscape
        while cursor < end {
            let byte = bytes[cursor]
            if byte == UInt8(ascii: "\"") {
                index = cursor + 1
                return String(decoding: scratch, as: UTF8.self)
            } else if byte == UInt8(ascii: "\\") {
                cursor = try decodeEscape(at: cursor)
            } else if byte < 0x20 {
                throw controlCharacter(at: cursor)
            } else if byte < 0x80 {
                scratch.append(byte)
                cursor += 1
            } else {
                let next = try skipUTF8Sequence(at: cursor)
                scratch.append(contentsOf: bytes[cursor..<next])
                cursor = next
            }
        }
        throw error("unterminated string", at: index)
    }

    /// Decodes the escape at `at` (a backslash) into `scratch`; returns the
    /// index after it.
    private mutating func decodeEscape(at escape: Int) throws(JSONParseError) -> Int {
        guard escape + 1 < end else { throw error("unterminated string", at: index) }
        let decoded: UInt8
        switch bytes[escape + 1] {
        case UInt8(ascii: "\""): decoded = UInt8(ascii: "\"")
        case UInt8(ascii: "\\"): decoded = UInt8(ascii: "\\")
        case UInt8(ascii: "/"): decoded = UInt8(ascii: "/")
        case UInt8(ascii: "b"): decoded = 0x08
        case UInt8(ascii: "f"): decoded = 0x0C
        case UInt8(ascii: "n"): decoded = 0x0A
        case UInt8(ascii: "r"): decoded = 0x0D
        case UInt8(ascii: "t"): decoded = 0x09
        case UInt8(ascii: "u"): return try decodeUnicodeEscape(at: escape)
        default: throw error("invalid escape sequence: backslash followed by \(describeRaw(escape + 1))", at: escape)
        }
        scratch.append(decoded)
        return escape + 2
    }

    private mutating func decodeUnicodeEscape(at escape: Int) throws(JSONParseError) -> Int {
        let unit = try hex4(at: escape + 2, escape: escape)
        var scalar = UInt32(unit)
        var next = escape + 6
        switch unit {
        case 0xD800...0xDBFF:
            guard next + 1 < end, bytes[next] == UInt8(ascii: "\\"), bytes[next + 1] == UInt8(ascii: "u") else {
                throw error("unpaired high surrogate \\u\(hex(unit))", at: escape)
            }
            let low = try hex4(at: next + 2, escape: next)
            guard (0xDC00...0xDFFF).contains(low) else {
                throw error("unpaired high surrogate \\u\(hex(unit))", at: escape)
            }
            scalar = 0x10000 + ((UInt32(unit) - 0xD800) << 10) + (UInt32(low) - 0xDC00)
            next += 6
        case 0xDC00...0xDFFF:
            throw error("unpaired low surrogate \\u\(hex(unit))", at: escape)
        default:
            break
        }
        appendUTF8(scalar)
        return next
    }

    private func hex4(at position: Int, escape: Int) throws(JSONParseError) -> UInt16 {
        var value: UInt16 = 0
        for k in 0..<4 {
            guard position + k < end else { throw error("unterminated string", at: index) }
            let byte = bytes[position + k]
            let digit: UInt8
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = byte - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = byte - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = byte - UInt8(ascii: "A") + 10
            default: throw error("invalid \\u escape: expected 4 hex digits", at: escape)
            }
            value = value << 4 | UInt16(digit)
        }
        return value
    }

    private mutating func appendUTF8(_ scalar: UInt32) {
        switch scalar {
        case ..<0x80:
            scratch.append(UInt8(scalar))
        case ..<0x800:
            scratch.append(UInt8(0xC0 | scalar >> 6))
            scratch.append(UInt8(0x80 | scalar & 0x3F))
        case ..<0x10000:
            scratch.append(UInt8(0xE0 | scalar >> 12))
            scratch.append(UInt8(0x80 | scalar >> 6 & 0x3F))
            scratch.append(UInt8(0x80 | scalar & 0x3F))
        default:
            scratch.append(UInt8(0xF0 | scalar >> 18))
            scratch.append(UInt8(0x80 | scalar >> 12 & 0x3F))
            scratch.append(UInt8(0x80 | scalar >> 6 & 0x3F))
            scratch.append(UInt8(0x80 | scalar & 0x3F))
        }
    }

    /// Validates one multi-byte UTF-8 sequence starting at `lead` (≥ 0x80)
    /// against `UTF8Rules`. Returns the index after it.
    private func skipUTF8Sequence(at lead: Int) throws(JSONParseError) -> Int {
        guard let (continuations, secondRange) = UTF8Rules.sequence(startingWith: bytes[lead]) else {
            throw error("invalid UTF-8 byte sequence", at: lead)
        }
        let length = continuations + 1
        guard lead + length <= end, secondRange.contains(bytes[lead + 1]) else {
            throw error("invalid UTF-8 byte sequence", at: lead)
        }
        for k in 2..<length where bytes[lead + k] & 0xC0 != 0x80 {
            throw error("invalid UTF-8 byte sequence", at: lead)
        }
        return lead + length
    }

    /// The bytes are already validated, so the String initializer's own
    /// validation pass never repairs anything; small strings (≤ 15 bytes, most
    /// keys and ids) land inline without a heap allocation.
    private func makeString(from start: Int, to stop: Int) -> String {
        let count = stop - start
        if count == 0 { return "" }
        let source = UnsafeRawBufferPointer(rebasing: bytes[start..<stop])
        return String(unsafeUninitializedCapacity: count) { destination in
            UnsafeMutableRawBufferPointer(destination).copyMemory(from: source)
            return count
        }
    }

    // MARK: - Numbers

    private mutating func parseNumber() throws(JSONParseError) -> JSONValue {
        let start = index
        var cursor = index
        let negative = bytes[cursor] == UInt8(ascii: "-")
        if negative { cursor += 1 }
        guard cursor < end, isDigit(bytes[cursor]) else {
            throw expected("digit after '-'", at: cursor)
        }
        // All significant digits (integer and fraction) accumulate here; once
        // they no longer fit, the exact fast paths are off and the slow path
        // reparses the text.
        var mantissa: UInt64 = 0
        var mantissaOverflowed = false
        if bytes[cursor] == UInt8(ascii: "0") {
            cursor += 1
            if cursor < end, isDigit(bytes[cursor]) {
                throw error("leading zeros are not allowed", at: start)
            }
        } else {
            while cursor < end, isDigit(bytes[cursor]) {
                accumulate(bytes[cursor], into: &mantissa, overflowed: &mantissaOverflowed)
                cursor += 1
            }
        }
        var isInteger = true
        var decimalExponent = 0
        if cursor < end, bytes[cursor] == UInt8(ascii: ".") {
            isInteger = false
            cursor += 1
            guard cursor < end, isDigit(bytes[cursor]) else {
                throw expected("digit after decimal point", at: cursor)
            }
            while cursor < end, isDigit(bytes[cursor]) {
                accumulate(bytes[cursor], into: &mantissa, overflowed: &mantissaOverflowed)
                decimalExponent -= 1
                cursor += 1
            }
        }
        if cursor < end, bytes[cursor] | 0x20 == UInt8(ascii: "e") {
            isInteger = false
            cursor += 1
            var exponentNegative = false
            if cursor < end, bytes[cursor] == UInt8(ascii: "-") || bytes[cursor] == UInt8(ascii: "+") {
                exponentNegative = bytes[cursor] == UInt8(ascii: "-")
                cursor += 1
            }
            guard cursor < end, isDigit(bytes[cursor]) else {
                throw expected("digit in exponent", at: cursor)
            }
            var exponent = 0
            while cursor < end, isDigit(bytes[cursor]) {
                // Saturate: anything this large is out of range either way.
                if exponent < 1_000_000 { exponent = exponent * 10 + Int(bytes[cursor] - UInt8(ascii: "0")) }
                cursor += 1
            }
            decimalExponent += exponentNegative ? -exponent : exponent
        }
        index = cursor

        if isInteger, !mantissaOverflowed {
            if !negative, mantissa <= UInt64(Int64.max) { return .int(Int64(mantissa)) }
            if negative, mantissa <= Int64.min.magnitude { return .int(Int64(bitPattern: 0 &- mantissa)) }
        }
        let value: Double
        if !mantissaOverflowed, mantissa <= 1 << 53, let power = exactPowerOfTen(decimalExponent.magnitude) {
            // Clinger's fast path: both operands are exact doubles, so one
            // IEEE multiplication or division rounds correctly.
            let magnitude = decimalExponent < 0 ? Double(mantissa) / power : Double(mantissa) * power
            value = negative ? -magnitude : magnitude
        } else {
            value = slowDouble(from: start, to: cursor)
        }
        guard value.isFinite else { throw error("number out of range", at: start) }
        return .double(value)
    }

    @inline(__always)
    private func isDigit(_ byte: UInt8) -> Bool { byte &- UInt8(ascii: "0") < 10 }

    @inline(__always)
    private func accumulate(_ digit: UInt8, into mantissa: inout UInt64, overflowed: inout Bool) {
        let (times10, o1) = mantissa.multipliedReportingOverflow(by: 10)
        let (sum, o2) = times10.addingReportingOverflow(UInt64(digit - UInt8(ascii: "0")))
        if o1 || o2 { overflowed = true } else { mantissa = sum }
    }

    private func exactPowerOfTen(_ exponent: UInt) -> Double? {
        let powers: [Double] = [
            1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
            1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
        ]
        return exponent < powers.count ? powers[Int(exponent)] : nil
    }

    /// Long mantissas and large exponents go through the standard library's
    /// correctly rounded, locale-independent conversion (the text has already
    /// been validated as JSON number syntax, which it accepts).
    private func slowDouble(from start: Int, to stop: Int) -> Double {
        Double(makeString(from: start, to: stop)) ?? .nan
    }

    // MARK: - Errors

    private func error(_ message: String, at offset: Int) -> JSONParseError {
        JSONParseError(message, at: offset, in: bytes)
    }

    private func expected(_ what: String, at offset: Int) -> JSONParseError {
        if offset == end { return error("unexpected end of input: expected \(what)", at: offset) }
        return unexpected(at: offset, "expected \(what)")
    }

    private func controlCharacter(at offset: Int) -> JSONParseError {
        error("unescaped control character U+\(hex(UInt16(bytes[offset]))) in string", at: offset)
    }

    private func unexpectedValueStart() -> JSONParseError {
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
    private func unexpected(at offset: Int, _ message: String) -> JSONParseError {
        bytes[offset] == UInt8(ascii: "/") ? error("comments are not allowed", at: offset) : error(message, at: offset)
    }

    private func describeRaw(_ offset: Int) -> String {
        let byte = bytes[offset]
        return (0x21..<0x7F).contains(byte) ? "'\(Character(Unicode.Scalar(byte)))'" : "byte 0x\(hex(UInt16(byte)).suffix(2))"
    }

    private func hex(_ value: UInt16) -> String {
        let digits = String(value, radix: 16, uppercase: true)
        return String(repeating: "0", count: 4 - digits.count) + digits
    }
}
