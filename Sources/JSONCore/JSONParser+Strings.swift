import UTF8Rules

/// Strings: the parser's hottest part on the wire (keys and short values), kept
/// apart from the value grammar so each file stays about one concern.
extension JSONParser {
    /// Called at the opening quote. Strings without escapes (nearly all of
    /// them on the wire) are validated in one pass and copied into a String
    /// once; escapes divert to `parseEscapedString`.
    @inlinable @inline(__always)
    mutating func parseString() throws(JSONParseError) -> String {
        switch try scanString() {
        case .plain(let range): return makeString(from: range.lowerBound, to: range.upperBound)
        case .escaped(let start, let firstEscape): return try parseEscapedString(start: start, firstEscape: firstEscape)
        }
    }

    @usableFromInline enum StringScan {
        /// No escapes: the string is these input bytes (validated; the index is past its closing quote).
        case plain(Range<Int>)
        /// An escape at `firstEscape`: `parseEscapedString` decodes it (the index has not moved).
        case escaped(start: Int, firstEscape: Int)
    }

    /// At a string's opening quote: validates up to its end or its first escape.
    /// Eight bytes at a time while they are plain ASCII (no quote, backslash or control
    /// character), so a short key or id costs one step; any other byte is looked at alone.
    @inlinable @inline(__always)
    mutating func scanString() throws(JSONParseError) -> StringScan {
        let start = index + 1
        var cursor = start
        while cursor < end {
            if cursor &+ 8 <= end {
                let special = Self.specialBytes(UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: cursor, as: UInt64.self)))
                if special == 0 {
                    cursor &+= 8
                    continue
                }
                cursor &+= special.trailingZeroBitCount &>> 3  // the first byte that needs a look
            }
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

    /// The high bit of each byte of `word` that is `"`, `\`, a control character or not
    /// ASCII; nothing else is set. Only the lowest flagged byte is exact (a borrow can flag
    /// bytes after it), which is the only one `scanString` uses.
    @inlinable @inline(__always)
    static func specialBytes(_ word: UInt64) -> UInt64 {
        let ones: UInt64 = 0x0101_0101_0101_0101
        let quote = word ^ (ones &* UInt64(UInt8(ascii: "\"")))
        let backslash = word ^ (ones &* UInt64(UInt8(ascii: "\\")))
        let isQuote = (quote &- ones) & ~quote
        let isBackslash = (backslash &- ones) & ~backslash
        let isControl = (word &- ones &* 0x20) & ~word
        return (isQuote | isBackslash | isControl | word) & (ones &* 0x80)
    }

    @usableFromInline
    mutating func parseEscapedString(start: Int, firstEscape: Int) throws(JSONParseError) -> String {
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
    mutating func decodeEscape(at escape: Int) throws(JSONParseError) -> Int {
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

    mutating func decodeUnicodeEscape(at escape: Int) throws(JSONParseError) -> Int {
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

    func hex4(at position: Int, escape: Int) throws(JSONParseError) -> UInt16 {
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

    mutating func appendUTF8(_ scalar: UInt32) {
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
    @usableFromInline
    func skipUTF8Sequence(at lead: Int) throws(JSONParseError) -> Int {
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
    @inlinable
    func makeString(from start: Int, to stop: Int) -> String {
        let count = stop - start
        if count == 0 { return "" }
        let source = UnsafeRawBufferPointer(rebasing: bytes[start..<stop])
        return String(unsafeUninitializedCapacity: count) { destination in
            UnsafeMutableRawBufferPointer(destination).copyMemory(from: source)
            return count
        }
    }
}
