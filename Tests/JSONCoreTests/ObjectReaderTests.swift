import JSONCore
import Testing

/// `JSONObjectReader` must accept exactly what `JSONValue.parse` accepts (for objects), yield
/// the same members, and refuse with the same error: it is `parse` without the tree.
@Suite struct ObjectReaderTests {
    /// Every member, values read as trees.
    private func members(_ text: String, maxDepth: Int = 128) throws(JSONParseError) -> [(String, JSONValue)] {
        var out: [(String, JSONValue)] = []
        try JSONObjectReader.read(Array(text.utf8), maxDepth: maxDepth) { reader throws(JSONParseError) in
            while try reader.nextMember() { out.append((reader.key, try reader.value())) }
        }
        return out
    }

    private static let accepted = [
        "{}", " \n{ } \t", #"{"a":1}"#, #"{"type":"req","id":"1","method":"health","params":{}}"#,
        #"{ "a" : [1, {"b": null}] , "a": "dup", "\u0074ype": "esc\"aped", "é": -1.5e3 }"#,
        #"{"x":{"y":{"z":[[],{}]}},"t":true,"f":false}"#,
    ]

    @Test(arguments: accepted) func membersAreTheParsedObjectsEntries(_ text: String) throws {
        let object = try #require(try JSONValue.parse(text).objectValue)
        let read = try members(text)
        #expect(read.map(\.0) == object.keys)
        #expect(read.map(\.1) == object.entries.map(\.value))
    }

    private static let refused = [
        "", "[]", "1", #""s""#, "{", #"{"a"}"#, #"{"a":}"#, #"{"a":1,}"#, #"{"a":1 "b":2}"#, #"{a:1}"#,
        #"{"a":1}x"#, #"{"a":1}}"#, #"{"a":[1,}"#, "{\"a\":\"\u{1}\"}", "{\"a\":\"\\x\"}", #"{"a":tru}"#,
        #"{"a":01}"#, #"{"a":1e999}"#, #"{"a":"\ud800"}"#, "{\"a\":\"\\u0041\" ,}",
    ]

    @Test(arguments: refused) func refusesWithParsesError(_ text: String) {
        #expect(throws: JSONParseError.self) { try members(text) }
        guard case .failure(let parseError) = Result(catching: { () throws(JSONParseError) in try JSONValue.parse(text) }),
              case .failure(let readError) = Result(catching: { () throws(JSONParseError) in try members(text) })
        else { return }
        // A document that is not an object is refused at its first byte, for that reason.
        if text.first == "{" { #expect(readError == parseError) } else { #expect(readError.message.contains("'{'")) }
    }

    @Test func unreadValuesAndMembersAfterAnEarlyStopAreStillChecked() throws {
        let firstKey = { (text: String) throws(JSONParseError) -> String? in
            var key: String?
            try JSONObjectReader.read(Array(text.utf8)) { reader throws(JSONParseError) in
                if try reader.nextMember() { key = reader.key }
            }
            return key
        }
        #expect(try firstKey(#"{"a":{"deep":[1,2]},"b":"c"}"#) == "a")
        #expect(throws: JSONParseError.self) { try firstKey(#"{"a":1,"b":[1,}"#) }
        #expect(throws: JSONParseError.self) { try firstKey(#"{"a":1} trailing"#) }
        #expect(throws: JSONParseError.self) { try firstKey("{\"a\":\"\u{1}\"}") }
    }

    @Test func stringValueIsNilForOtherValuesAndReadingGoesOn() throws {
        var read: [String?] = []
        try JSONObjectReader.read(Array(#"{"a":1,"b":"x","c":{"d":"e"},"e":"\u00e9\n"}"#.utf8)) {
            reader throws(JSONParseError) in
            while try reader.nextMember() { read.append(try reader.stringValue()) }
        }
        #expect(read == [nil, "x", nil, "é\n"])
    }

    /// Keys and literal values compared as read, escapes decoded: `"\u0074ype"` is `type`.
    @Test func keyIsAndValueIsCompareTheDecodedText() throws {
        var seen: [(Bool, Bool)] = []
        let text = #"{"type":"req","\u0074ype":"r\u0065q","typ":"req","types":"re","type":1}"#
        try JSONObjectReader.read(Array(text.utf8)) { reader throws(JSONParseError) in
            while try reader.nextMember() { seen.append((reader.keyIs("type"), try reader.valueIs("req"))) }
        }
        #expect(seen.map(\.0) == [true, true, false, false, true])
        #expect(seen.map(\.1) == [true, true, true, false, false])
    }

    @Test func depthLimitIsParses() {
        let deep = #"{"a":"# + String(repeating: "[", count: 10) + String(repeating: "]", count: 10) + "}"
        #expect(throws: Never.self) { try members(deep, maxDepth: 11) }
        #expect(throws: JSONParseError.self) { try members(deep, maxDepth: 10) }
        #expect(throws: JSONParseError.self) { try JSONValue.parse(deep, maxDepth: 10) }
    }
}
