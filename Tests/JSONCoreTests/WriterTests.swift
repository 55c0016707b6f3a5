import JSONCore
import Testing

@Suite struct WriterTests {
    @Test func compactOutputKeepsKeyOrder() {
        let frame: JSONValue = ["type": "req", "id": "42", "method": "health", "params": .object(JSONObject())]
        #expect(frame.jsonString == #"{"type":"req","id":"42","method":"health","params":{}}"#)
        #expect(frame.serialized() == Array(frame.jsonString.utf8))
    }

    @Test func serializeAppendsToExistingBytes() {
        var out: [UInt8] = [0x81, 0x00]
        JSONValue.array([1, "a", nil]).serialize(into: &out)
        #expect(out == [0x81, 0x00] + Array(#"[1,"a",null]"#.utf8))
    }

    @Test func scalars() {
        #expect(JSONValue.null.jsonString == "null")
        #expect(JSONValue.bool(true).jsonString == "true")
        #expect(JSONValue.bool(false).jsonString == "false")
        #expect(JSONValue.int(0).jsonString == "0")
        #expect(JSONValue.int(-7).jsonString == "-7")
        #expect(JSONValue.int(1_767_225_600_123).jsonString == "1767225600123")
        #expect(JSONValue.int(.max).jsonString == "9223372036854775807")
        #expect(JSONValue.int(.min).jsonString == "-9223372036854775808")
    }

    @Test func doublesAreShortestRoundTripAndAlwaysValidJSON() throws {
        #expect(JSONValue.double(0.1).jsonString == "0.1")
        #expect(JSONValue.double(1.5).jsonString == "1.5")
        #expect(JSONValue.double(1).jsonString == "1.0")
        #expect(JSONValue.double(1e20).jsonString == "1e+20")
        #expect(JSONValue.double(1e-5).jsonString == "1e-05")
        #expect(JSONValue.double(.infinity).jsonString == "null")
        #expect(JSONValue.double(-.infinity).jsonString == "null")
        #expect(JSONValue.double(.nan).jsonString == "null")
        for number in [
            0.1, -0.0, 1e-5, .leastNonzeroMagnitude, 1.7976931348623157e308, 2.2250738585072014e-308, 123456.789,
            1767225600.123, 9007199254740992, 1e16, 0.30000000000000004, -1e300,
        ] {
            let text = JSONValue.double(number).jsonString
            let back = try JSONValue.parse(text)
            #expect(back.doubleValue?.bitPattern == number.bitPattern, "\(text)")
            if case .double = back {} else { Issue.record("\(text) came back as \(back)") }
        }
    }

    @Test func stringEscaping() {
        #expect(JSONValue.string("a\"b\\c/d").jsonString == #""a\"b\\c/d""#)
        #expect(JSONValue.string("\n\r\t\u{8}\u{C}").jsonString == #""\n\r\t\b\f""#)
        #expect(JSONValue.string("\u{0}\u{1}\u{1F}\u{7F}").jsonString == "\"\\u0000\\u0001\\u001f\u{7F}\"")
        #expect(JSONValue.string("日本 😀 \u{2028}").jsonString == "\"日本 😀 \u{2028}\"")
        #expect(JSONValue.string("").jsonString == #""""#)
        let key: JSONValue = ["k\"\n": 1]
        #expect(key.jsonString == #"{"k\"\n":1}"#)
    }

    @Test func largeOutputsSpanManyWriterFlushes() throws {
        let long = String(repeating: "é\"x\n", count: 2_000)
        let value: JSONValue = ["log": .string(long), "lines": .array((0..<3_000).map { .int(Int64($0)) })]
        var out = Array("prefix".utf8)
        value.serialize(into: &out)
        #expect(Array(out.prefix(6)) == Array("prefix".utf8))
        #expect(try JSONValue.parse(Array(out.dropFirst(6))) == value)
        let huge = JSONValue.string(String(repeating: "a", count: 50_000))
        #expect(huge.serialized().count == 50_002)
    }

    @Test func prettyPrinting() {
        let value: JSONValue = [
            "gateway": ["port": 18789, "bind": "loopback", "auth": ["token": nil]],
            "list": [1, [], .object(JSONObject()), ["x"]],
            "empty": .object(JSONObject()),
        ]
        #expect(value.prettyPrinted() == """
            {
              "gateway": {
                "port": 18789,
                "bind": "loopback",
                "auth": {
                  "token": null
                }
              },
              "list": [
                1,
                [],
                {},
                [
                  "x"
                ]
              ],
              "empty": {}
            }
            """)
        #expect(JSONValue.int(3).prettyPrinted() == "3")
        #expect(JSONValue.array([]).prettyPrinted() == "[]")
    }

    @Test(arguments: [
        #"{"type":"req","id":"42","method":"health","params":{}}"#,
        #"{"type":"res","id":"42","ok":true,"payload":{"status":"ok","uptimeMs":1234567,"load":0.73,"channels":[{"id":"a","lastEventAt":null}]}}"#,
        #"[1,-1,0.5,-2.5e-7,1e+300,"\u00e9\ud83d\ude00\t",[],{},[[[]]],{"":{"":""}},true,false,null]"#,
        #"  {  "spaced" :  [ 1 , 2 ]  }  "#,
        #"[12345678901234567890,-9223372036854775808,9223372036854775807]"#,
    ])
    func roundTrips(text: String) throws {
        let value = try JSONValue.parse(text)
        let compact = value.serialized()
        #expect(try JSONValue.parse(compact) == value)
        #expect(try JSONValue.parse(compact).serialized() == compact)
        #expect(try JSONValue.parse(value.prettyPrinted()) == value)
    }
}
