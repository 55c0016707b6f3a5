import JSONCore
import Testing

/// Parses `text` expecting failure and returns the error (or records an issue).
func parseFailure(_ text: String, maxDepth: Int = 128) -> JSONParseError? {
    parseFailure(Array(text.utf8), maxDepth: maxDepth)
}

func parseFailure(_ bytes: [UInt8], maxDepth: Int = 128) -> JSONParseError? {
    do {
        let value = try JSONValue.parse(bytes, maxDepth: maxDepth)
        Issue.record("accepted \(bytes) as \(value)")
        return nil
    } catch {
        return error
    }
}

@Suite struct ParserTests {
    @Test func parsesATypicalRequestFrame() throws {
        let value = try JSONValue.parse(#"{"type":"req","id":"42","method":"health","params":{}}"#)
        #expect(value == ["type": "req", "id": "42", "method": "health", "params": .object(JSONObject())])
        #expect(value.objectValue?.keys == ["type", "id", "method", "params"])
    }

    @Test func scalarsAtTopLevelWithSurroundingWhitespace() throws {
        #expect(try JSONValue.parse(" \t\r\n null \n") == .null)
        #expect(try JSONValue.parse("true") == .bool(true))
        #expect(try JSONValue.parse("false") == .bool(false))
        #expect(try JSONValue.parse("\"x\"") == .string("x"))
        #expect(try JSONValue.parse("-12") == .int(-12))
        #expect(try JSONValue.parse("[]") == .array([]))
        #expect(try JSONValue.parse("{ }") == .object(JSONObject()))
    }

    @Test func allEntryPointsAgree() throws {
        let text = #"{"a":[1,2.5,"ü"]}"#
        let bytes = Array(text.utf8)
        let expected = try JSONValue.parse(text)
        #expect(try JSONValue.parse(bytes) == expected)
        #expect(try bytes.withUnsafeBytes { try JSONValue.parse($0) } == expected)
        let framed: [UInt8] = [0x81, 0x10] + bytes + [0xFF]
        #expect(try JSONValue.parse(framed[2..<(framed.count - 1)]) == expected)
    }

    @Test func duplicateKeysAreKeptAndFirstWinsOnLookup() throws {
        let value = try JSONValue.parse(#"{"a":1,"a":2}"#)
        #expect(value.objectValue?.count == 2)
        #expect(value["a"] == .int(1))
    }

    // MARK: Numbers

    @Test(arguments: [
        ("0", JSONValue.int(0)), ("-0", .int(0)), ("7", .int(7)), ("-7", .int(-7)),
        ("9223372036854775807", .int(Int64.max)), ("-9223372036854775808", .int(Int64.min)),
        ("9223372036854775808", .double(9223372036854775808.0)),
        ("-9223372036854775809", .double(-9223372036854775809.0)),
        ("18446744073709551616", .double(18446744073709551616.0)),
        ("123456789012345678901234567890", .double(1.2345678901234568e29)),
        ("1.5", .double(1.5)), ("-0.25", .double(-0.25)), ("1e3", .double(1000)), ("1E+3", .double(1000)),
        ("2.5e-3", .double(0.0025)), ("0.1", .double(0.1)), ("1.0", .double(1.0)), ("-0.0", .double(-0.0)),
        ("1767225600123", .int(1_767_225_600_123)), ("1767225600.123", .double(1767225600.123)),
        ("1e308", .double(1e308)), ("1e-400", .double(0)), ("4.9406564584124654e-324", .double(.leastNonzeroMagnitude)),
        ("1.7976931348623157e308", .double(.greatestFiniteMagnitude)),
        ("0.30000000000000004", .double(0.30000000000000004)),
        ("9007199254740993", .int(9_007_199_254_740_993)),
        ("9007199254740993.0", .double(9007199254740992.0)),
        ("1e22", .double(1e22)), ("1e23", .double(1e23)), ("123456789e-30", .double(123456789e-30)),
        ("0e0", .double(0)), ("1e0000000000000000000001", .double(10)),
    ])
    func numbers(text: String, expected: JSONValue) throws {
        let value = try JSONValue.parse(text)
        #expect(value == expected)
        if case .double(let parsed) = value, case .double(let wanted) = expected {
            #expect(parsed.bitPattern == wanted.bitPattern, "\(text) → \(parsed), want \(wanted)")
        }
    }

    @Test func doublesMatchTheStandardLibraryOnAwkwardInputs() throws {
        for text in [
            "2.2250738585072011e-308", "2.2250738585072012e-308", "7.038531e-26", "9007199254740993e0",
            "1.00000000000000011102230246251565404236316680908203125", "8.41e21", "3.0e22", "0.1e-22",
            "123456789012345678e-5", "4503599627370497.5", "17976931348623157e292",
        ] {
            #expect(try JSONValue.parse(text) == .double(Double(text)!), "\(text)")
        }
    }

    @Test func numbersOutOfRangeAreRefused() {
        #expect(parseFailure("1e309")?.message == "number out of range")
        #expect(parseFailure("-1e400")?.message == "number out of range")
        #expect(parseFailure("[1, 2e99999999999999999999]")?.column == 5)
    }

    // MARK: Strings

    @Test func unicodeEscapesAndSurrogatePairs() throws {
        #expect(try JSONValue.parse(#""\u0041\u00e9\u20AC""#) == .string("Aé€"))
        #expect(try JSONValue.parse(#""\uD83D\uDE00""#) == .string("😀"))
        #expect(try JSONValue.parse(#""\ud834\udd1e x""#) == .string("𝄞 x"))
        #expect(try JSONValue.parse(#""\u0000""#) == .string("\u{0}"))
        #expect(try JSONValue.parse(#""\uFFFF\uDBFF\uDFFF""#) == .string("\u{FFFF}\u{10FFFF}"))
        #expect(try JSONValue.parse(#""\"\\\/\b\f\n\r\t""#) == .string("\"\\/\u{8}\u{C}\n\r\t"))
        #expect(try JSONValue.parse(#""plain then \n escaped then ünïcödé""#) == .string("plain then \n escaped then ünïcödé"))
    }

    @Test func rawUTF8PassesThrough() throws {
        #expect(try JSONValue.parse("\"日本語 😀 é\"") == .string("日本語 😀 é"))
        #expect(try JSONValue.parse("\"\u{10FFFF}\u{E000}\u{FFFD}\"") == .string("\u{10FFFF}\u{E000}\u{FFFD}"))
    }

    @Test func surrogateErrors() {
        #expect(parseFailure(#""\uD800""#)?.message == #"unpaired high surrogate \uD800"#)
        #expect(parseFailure(#""\uD800x""#)?.message == #"unpaired high surrogate \uD800"#)
        #expect(parseFailure(#""\uD800\u0041""#)?.message == #"unpaired high surrogate \uD800"#)
        #expect(parseFailure(#""\uD800\uD800""#)?.message == #"unpaired high surrogate \uD800"#)
        #expect(parseFailure(#""ab\uDC00""#)?.message == #"unpaired low surrogate \uDC00"#)
        #expect(parseFailure(#""ab\uDC00""#)?.column == 4)
        #expect(parseFailure(#""\uD83D\uDE0""#)?.message == #"invalid \u escape: expected 4 hex digits"#)
    }

    @Test(arguments: [
        ([0x22, 0x80, 0x22], 1),  // lone continuation byte
        ([0x22, 0xC0, 0xAF, 0x22], 1),  // overlong "/"
        ([0x22, 0xC1, 0xBF, 0x22], 1),  // overlong
        ([0x22, 0xE0, 0x80, 0xAF, 0x22], 1),  // overlong 3-byte
        ([0x22, 0xED, 0xA0, 0x80, 0x22], 1),  // UTF-8 encoded surrogate U+D800
        ([0x22, 0xF0, 0x80, 0x80, 0xAF, 0x22], 1),  // overlong 4-byte
        ([0x22, 0xF4, 0x90, 0x80, 0x80, 0x22], 1),  // above U+10FFFF
        ([0x22, 0xF5, 0x80, 0x80, 0x80, 0x22], 1),
        ([0x22, 0xFF, 0x22], 1),
        ([0x22, 0x61, 0xC3, 0x22], 2),  // truncated sequence
        ([0x22, 0x61, 0xE2, 0x82], 2),  // truncated at end of input
        ([0x22, 0x5C, 0x6E, 0xC3, 0x28, 0x22], 3),  // after an escape
    ] as [([UInt8], Int)])
    func invalidUTF8IsRefused(bytes: [UInt8], offset: Int) {
        let error = parseFailure(bytes)
        #expect(error?.message == "invalid UTF-8 byte sequence")
        #expect(error?.offset == offset)
    }

    @Test func controlCharactersInStringsAreRefused() {
        let error = parseFailure("{\"a\":\"x\ty\"}")
        #expect(error?.message == "unescaped control character U+0009 in string")
        #expect(error?.column == 8)
        // The newline byte itself is the offender, so it is reported on line 1.
        #expect(parseFailure("\"line\nbreak\"").map { [$0.line, $0.column] } == [1, 6])
        #expect(parseFailure([0x22, 0x00, 0x22])?.message == "unescaped control character U+0000 in string")
        #expect(parseFailure("\"a\\n\u{1F}\"")?.offset == 4)
        // DEL is not a control character in JSON's sense.
        #expect(throws: Never.self) { try JSONValue.parse("\"\u{7F}\"") }
    }

    /// Strings are scanned eight bytes at a time: every kind of byte, at every offset in and
    /// around those eight (inside a document, so the scan can also look past the string).
    @Test func everyByteAtEveryOffsetOfAString() throws {
        let accepted: [[UInt8]] = [[0x20], [0x21], [0x23], [0x5B], [0x5D], [0x7F], Array("é".utf8), Array("€".utf8),
                                   Array("😀".utf8), Array(#"\""#.utf8), Array(#"\\"#.utf8), Array(#"\n"#.utf8)]
        let decoded = [" ", "!", "#", "[", "]", "\u{7F}", "é", "€", "😀", "\"", "\\", "\n"]
        for offset in 0..<18 {
            let before = [UInt8](repeating: UInt8(ascii: "a"), count: offset)
            for (bytes, text) in zip(accepted, decoded) {
                let document = Array(#"{"k":""#.utf8) + before + bytes + Array(#"b","n":1}"#.utf8)
                let value = try JSONValue.parse(document)
                #expect(value["k"]?.stringValue == String(repeating: "a", count: offset) + text + "b", "offset \(offset)")
            }
            for refused: UInt8 in [0x00, 0x09, 0x1F, 0x80, 0xC0, 0xFF] {
                let document = Array(#"{"k":""#.utf8) + before + [refused] + Array(#"b","n":1}"#.utf8)
                #expect(parseFailure(document)?.offset == 6 + offset, "byte \(refused) at \(offset)")
            }
        }
    }

    // MARK: Errors with positions

    @Test(arguments: [
        ("", "unexpected end of input: expected a value", 1, 1),
        ("   ", "unexpected end of input: expected a value", 1, 4),
        ("{\n  \"a\": 1\n  \"b\": 2\n}", "expected ',' or '}' after object member", 3, 3),
        ("{\"a\" 1}", "expected ':' after object key", 1, 6),
        ("{\"a\":1,}", "trailing comma before '}'", 1, 8),
        ("[1,2,]", "trailing comma before ']'", 1, 6),
        ("[1 2]", "expected ',' or ']' after array element", 1, 4),
        ("{1:2}", "expected string key", 1, 2),
        ("{'a':1}", "expected string key", 1, 2),
        ("[,1]", "expected a value before ','", 1, 2),
        ("[1,,2]", "expected a value before ','", 1, 4),
        ("{\"a\":}", "expected a value before '}'", 1, 6),
        ("[1", "unexpected end of input: expected ',' or ']' after array element", 1, 3),
        ("{\"a\":1", "unexpected end of input: expected ',' or '}' after object member", 1, 7),
        ("{\"a\"", "unexpected end of input: expected ':' after object key", 1, 5),
        ("{", "unexpected end of input: expected string key", 1, 2),
        ("[", "unexpected end of input: expected a value", 1, 2),
        ("\"abc", "unterminated string", 1, 1),
        ("[\"abc\\", "unterminated string", 1, 2),
        ("\"\\u12", "unterminated string", 1, 1),
        ("\"\\x\"", "invalid escape sequence: backslash followed by 'x'", 1, 2),
        ("\"\\'\"", "invalid escape sequence: backslash followed by '''", 1, 2),
        ("\"\\u12G4\"", "invalid \\u escape: expected 4 hex digits", 1, 2),
        ("tru", "invalid literal, expected 'true'", 1, 1),
        ("nul", "invalid literal, expected 'null'", 1, 1),
        ("[falsy]", "invalid literal, expected 'false'", 1, 2),
        ("True", "unexpected 'T', expected a value", 1, 1),
        ("NaN", "unexpected 'N', expected a value", 1, 1),
        ("-Infinity", "expected digit after '-'", 1, 2),
        ("Infinity", "unexpected 'I', expected a value", 1, 1),
        ("01", "leading zeros are not allowed", 1, 1),
        ("[-012]", "leading zeros are not allowed", 1, 2),
        ("1.", "unexpected end of input: expected digit after decimal point", 1, 3),
        (".5", "unexpected '.', expected a value", 1, 1),
        ("1.e5", "expected digit after decimal point", 1, 3),
        ("1e", "unexpected end of input: expected digit in exponent", 1, 3),
        ("1e+", "unexpected end of input: expected digit in exponent", 1, 4),
        ("+1", "unexpected '+', expected a value", 1, 1),
        ("0x1F", "unexpected 'x' after the top-level value", 1, 2),
        ("1 2", "unexpected '2' after the top-level value", 1, 3),
        ("{} {}", "unexpected '{' after the top-level value", 1, 4),
        ("[] x", "unexpected 'x' after the top-level value", 1, 4),
        ("{\n  // note\n  \"a\": 1\n}", "comments are not allowed", 2, 3),
        ("[1, /* two */ 2]", "comments are not allowed", 1, 5),
        ("/* c */ 1", "comments are not allowed", 1, 1),
        ("[1] // c", "comments are not allowed", 1, 5),
        ("\u{FEFF}{}", "byte order mark is not allowed", 1, 1),
        ("{\"é\": ü}", "unexpected byte 0xC3, expected a value", 1, 7),
        ("\n\n   ]", "expected a value before ']'", 3, 4),
        ("\r\n[\r\n1,\r\nx]", "unexpected 'x', expected a value", 4, 1),
        ("[1]\u{0}", "unexpected byte 0x00 after the top-level value", 1, 4),
    ])
    func errorsCarryMessageLineAndColumn(text: String, message: String, line: Int, column: Int) {
        guard let error = parseFailure(text) else { return }
        #expect(error.message == message)
        #expect(error.line == line)
        #expect(error.column == column)
        #expect(error.description == "line \(line), column \(column): \(message)")
    }

    @Test func columnsCountScalarsAndOffsetsCountBytes() {
        let error = parseFailure("[\"ünï😀\", x]")
        #expect(error?.column == 10)
        #expect(error?.offset == 14)
    }

    // MARK: Depth

    @Test func depthLimitIsEnforcedExactly() throws {
        let ok = String(repeating: "[", count: 128) + String(repeating: "]", count: 128)
        #expect(throws: Never.self) { try JSONValue.parse(ok) }
        let tooDeep = String(repeating: "[", count: 129) + String(repeating: "]", count: 129)
        let error = parseFailure(tooDeep)
        #expect(error?.message == "nesting deeper than 128 levels")
        #expect(error?.column == 129)
        #expect(parseFailure(#"{"a":{"b":[1]}}"#, maxDepth: 2)?.message == "nesting deeper than 2 levels")
        #expect(try JSONValue.parse(#"{"a":{"b":1}}"#, maxDepth: 2)["a"]?["b"] == .int(1))
        #expect(try JSONValue.parse("1", maxDepth: 0) == .int(1))
    }

    @Test func hostileNestingFailsWithoutExhaustingTheStack() {
        let bomb = [UInt8](repeating: UInt8(ascii: "["), count: 1_000_000)
        #expect(parseFailure(bomb)?.message == "nesting deeper than 128 levels")
        let objects = String(repeating: #"{"a":"#, count: 200_000)
        #expect(parseFailure(objects)?.offset == 128 * 5)
    }
}
