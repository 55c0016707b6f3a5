import JSONCore
import Testing

/// Must-accept / must-reject documents in the spirit of JSONTestSuite
/// (y_/n_ cases), written out here so the test target has no fixtures.
@Suite struct ConformanceTests {
    static let mustAccept: [String] = [
        "[]", "{}", "[[]]", "[{}]", "{\"\":0}", "[\"\"]", "[null]", "[true,false]", " [ 1 , 2 ] ",
        "[1e1]", "[1E1]", "[1e+1]", "[1e-1]", "[1E-1]", "[0e1]", "[0.0]", "[-0]", "[-0.0e-0]",
        "[123e65]", "[1.5e2]", "[1e-99999999999999999999]",
        "[0.000000000000000000000000000001]", "[-9223372036854775808]", "[100000000000000000000]",
        "{\"a\":[{\"b\":{\"c\":[null]}}]}", "{\"a\":\"b\",\"a\":\"c\"}", "{\"\\u0000\":1}",
        "[\"\\u0060\\u012a\\u12AB\"]", "[\"\\uD801\\udc37\"]", "[\"\\ud83d\\ude39\\ud83d\\udc8d\"]",
        "[\"\\\"\\\\\\/\\b\\f\\n\\r\\t\"]", "[\"\u{7F}\"]", "[\"\u{2028}\u{2029}\"]", "[\"€𝄞\"]",
        "[\"\\uFFFF\"]", "[\"\\uDBFF\\uDFFF\"]", "[\"a\\u0000b\"]", "\"\"", "\" \"", "-1", "0", "1.0",
        "\t\n\r [1]\t\n\r ", "{\"a\" : 1 , \"b\" : [ ] }", String(repeating: "[", count: 20) + "1" + String(repeating: "]", count: 20),
        "[1,\n1\n,1]", "{\"x\":-1.23456789e-123}", "[\"\\u002c\"]", "\"\\/\"", "[\"ó\"]",
    ]

    static let mustReject: [[UInt8]] = [
        "", " ", "[", "]", "{", "}", "[1", "[1,", "{\"a\"", "{\"a\":", "{\"a\":1", "[1,]", "{\"a\":1,}",
        "[,]", "[,1]", "[1,,2]", "{,}", "{\"a\":1,,\"b\":2}", "{\"a\" \"b\"}", "{\"a\"::1}", "{a:1}",
        "{'a':1}", "['a']", "{1:1}", "{null:1}", "[1 2]", "[1]]", "[1]x", "{}}", "[][]", "1 2",
        "[01]", "[-01]", "[00]", "[1.]", "[.1]", "[-]", "[-.1]", "[+1]", "[1e]", "[1e+]", "[1e-]",
        "[1.e1]", "[0x1]", "[0X1]", "[1_000]", "[NaN]", "[-NaN]", "[Infinity]", "[-Infinity]",
        "[inf]", "[1e999]", "[-1e999]", "[- 1]", "[1 .5]", "[1.5 e3]", "[0.1.2]", "[1e1.5]", "[2.]",
        "[tru]", "[nul]", "[fals]", "[True]", "[NULL]", "[truex]", "[nulll]", "[undefined]",
        "[\"a]", "[\"\\\"]", "[\"\\x00\"]", "[\"\\a\"]", "[\"\\'\"]", "[\"\\u00\"]", "[\"\\u00G0\"]",
        "[\"\\U0041\"]", "[\"\\uD800\"]", "[\"\\uDFFF\"]", "[\"\\uD800\\uD800\"]", "[\"\\uD800\\n\"]",
        "[\"\\uD800\\\"]", "[\"\\ud800abc\"]", "[\"\t\"]", "[\"\n\"]", "[\"\u{1}\"]", "[\"\u{1F}\"]",
        "// c\n[]", "[] // c", "/* c */ []", "[1 /* c */]", "\u{FEFF}[]", "[\u{A0}1]", "[1]\u{C}",
        "\u{B}1", "{\"a\":1}\u{0}", "\"\\u0061", "'single'",
    ].map { Array($0.utf8) } + [
        [0x22, 0xFF, 0x22], [0x22, 0xC0, 0x80, 0x22], [0x22, 0xED, 0xBF, 0xBF, 0x22],
        [0x22, 0xF4, 0x90, 0x80, 0x80, 0x22], [0x22, 0xE2, 0x82, 0x22], [0x22, 0x80, 0x22],
        [0x5B, 0xFF, 0x5D], [0xEF, 0xBB, 0xBF, 0x31], [0x22, 0xF8, 0x88, 0x80, 0x80, 0x80, 0x22],
        [0x22, 0xFE, 0x22], [0x22, 0xC2, 0x22], [0x5B, 0x00, 0x5D],
    ]

    @Test(arguments: mustAccept)
    func accepts(_ text: String) {
        #expect(throws: Never.self) { try JSONValue.parse(text) }
    }

    @Test(arguments: mustReject)
    func rejects(_ bytes: [UInt8]) {
        #expect(throws: JSONParseError.self) { try JSONValue.parse(bytes) }
    }

    @Test func rejectionPointsInsideTheInput() {
        for bytes in Self.mustReject {
            guard let error = parseFailure(bytes) else { continue }
            #expect(error.offset >= 0 && error.offset <= bytes.count, "\(bytes)")
            #expect(error.line >= 1 && error.column >= 1)
        }
    }
}
