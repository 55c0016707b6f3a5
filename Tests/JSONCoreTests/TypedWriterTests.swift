import JSONCore
import Testing

/// The typed writer must produce exactly the bytes the tree serializer produces for the same
/// value: answers move from trees to typed writing without changing a byte on the wire.
@Suite struct TypedWriterTests {
    private func written(_ body: (inout JSONByteWriter) -> Void) -> String {
        var out: [UInt8] = []
        JSONByteWriter.appending(to: &out, body)
        return String(decoding: out, as: UTF8.self)
    }

    @Test func envelopeMatchesTheTreeByteForByte() {
        let payload: JSONValue = ["ok": true, "list": [1, "two", nil, 2.5], "empty": .object(JSONObject())]
        let tree: JSONValue = ["type": "res", "id": "r\"1\n", "ok": true, "payload": payload]
        let typed = written { w in
            w.beginObject()
            w.key("type"); w.string("res")
            w.key("id"); w.string("r\"1\n")
            w.key("ok"); w.bool(true)
            w.key("payload"); w.value(payload)
            w.endObject()
        }
        #expect(typed == tree.jsonString)
    }

    @Test func commasBetweenMembersElementsAndNestedContainers() {
        let typed = written { w in
            w.beginObject()
            w.key("a"); w.beginArray(); w.endArray()
            w.key("b"); w.beginArray(); w.int(1); w.int(-2); w.null(); w.bool(false); w.endArray()
            w.key("c"); w.beginObject(); w.key("d"); w.beginObject(); w.endObject(); w.endObject()
            w.key("e"); w.beginArray(); w.beginObject(); w.endObject(); w.beginArray(); w.endArray(); w.endArray()
            w.endObject()
        }
        #expect(typed == #"{"a":[],"b":[1,-2,null,false],"c":{"d":{}},"e":[{},[]]}"#)
        #expect(throws: Never.self) { try JSONValue.parse(typed) }
    }

    @Test func dataKeysAreEscaped() {
        let typed = written { w in
            w.beginObject(); w.escapedKey("we\"ird\u{1}"); w.int(1); w.endObject()
        }
        #expect(typed == JSONValue.object(JSONObject([("we\"ird\u{1}", 1)])).jsonString)
    }

    @Test func scalarsMatchTheTree() {
        for number: Int64 in [0, 7, -7, .max, .min, 1_767_225_600_123] {
            #expect(written { $0.int(number) } == JSONValue.int(number).jsonString)
        }
        for number in [0.1, 1, -0.0, 1e20, 1e-5, .infinity, .nan, 123456.789] {
            #expect(written { $0.double(number) } == JSONValue.double(number).jsonString)
        }
        #expect(written { $0.int(42 as Int) } == "42")
        var power: Int64 = 1
        for _ in 0...18 {  // every digit count, at both ends
            for number in [power - 1, power, power + 1, -power, -(power - 1)] {
                #expect(written { $0.int(number) } == String(number))
            }
            power = power.multipliedReportingOverflow(by: 10).partialValue
        }
    }

    /// Clean strings take a one-pass copy; the first byte that needs escaping sends the whole
    /// string down the escaping path, wherever it is and whatever the length.
    @Test func stringsMatchTheTreeAtEveryLengthAndEscapePosition() {
        for length in [0, 1, 15, 16, 17, 1021, 1022, 1023, 1024, 3000] {
            let clean = String(repeating: "a", count: length)
            #expect(written { $0.string(clean) } == JSONValue.string(clean).jsonString)
            for position in Set([0, length / 2, max(0, length - 1)]) where length > 0 {
                var bytes = Array(clean.utf8)
                bytes[position] = position % 2 == 0 ? 0x0A : UInt8(ascii: "\"")
                let dirty = String(decoding: bytes, as: UTF8.self)
                #expect(written { w in w.int(1); w.string(dirty) } == "1," + JSONValue.string(dirty).jsonString)
            }
        }
    }

    /// `decimal` stands in for `double(Double(units) / 1000)` in `health.durationMs`:
    /// every microsecond count up to 0.2 s, and a spread of larger ones, read the same.
    @Test func decimalIsWhatTheDoubleWouldWrite() {
        var samples = Array(Int64(0)...200_000)
        samples += [9_999_999, 10_000_000, 123_456_789_012, 999_999_999_999_999, -1, -1500, -999_999_999_999_999]
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        for _ in 0..<20_000 {  // xorshift: magnitudes across the whole fast range
            state ^= state << 13; state ^= state >> 7; state ^= state << 17
            samples.append(Int64(state % 1_000_000_000_000_000) >> Int64(state % 50))
        }
        for units in samples {
            let expected = JSONValue.double(Double(units) / 1000).jsonString
            let typed = written { $0.decimal(units, fractionDigits: 3) }
            if typed != expected { Issue.record("\(units): \(typed) != \(expected)"); return }
        }
        #expect(written { $0.decimal(15, fractionDigits: 1) } == "1.5")
        #expect(written { $0.decimal(1_000_000_000_000_000, fractionDigits: 3) } == JSONValue.double(1e12).jsonString)
        #expect(written { $0.decimal(5, fractionDigits: 6) } == JSONValue.double(5e-6).jsonString)
    }

    @Test func encodedPartsAreCopiedWhereTheyGo() {
        let members = Array(#""x":1,"y":[2]"#.utf8)
        let typed = written { w in
            w.beginObject()
            w.key("a"); w.encoded(Array("[true]".utf8))
            w.encodedMembers(members)
            w.encodedMembers([])
            w.key("z"); w.int(3)
            w.endObject()
        }
        #expect(typed == #"{"a":[true],"x":1,"y":[2],"z":3}"#)
        #expect(written { w in w.beginObject(); w.encodedMembers(members); w.endObject() } == #"{"x":1,"y":[2]}"#)
    }

    /// More than the writer's 1 KiB stack buffer, and appended after bytes already there.
    @Test func longOutputIsAppendedWhole() {
        let long = String(repeating: "é\"", count: 2_000)
        var out: [UInt8] = [0x81]
        JSONByteWriter.appending(to: &out) { w in
            w.beginArray(); w.string(long); w.encoded(Array(repeating: UInt8(ascii: "1"), count: 3_000)); w.endArray()
        }
        let tree = JSONValue.array([.string(long), .int(0)]).serialized()
        #expect(out.count == 1 + tree.count + 2_999)
        #expect(out.first == 0x81)
        #expect(Array(out[1..<(1 + tree.count - 2)]) == Array(tree.dropLast(2)))
    }

    @Test func literalValuesAreWrittenAsGiven() {
        let typed = written { w in
            w.beginObject()
            w.key("type"); w.encoded("\"res\"")
            w.key("ok"); w.bool(true)
            w.key("no"); w.bool(false)
            w.key("n"); w.null()
            w.key("list"); w.beginArray(); w.encoded("1"); w.encoded("{}"); w.endArray()
            w.literalMembers(#""a":1,"b":"#); w.string("x")
            w.endObject()
        }
        #expect(typed == JSONValue.object(JSONObject([
            ("type", "res"), ("ok", true), ("no", false), ("n", nil), ("list", [1, .object(JSONObject())]),
            ("a", 1), ("b", "x"),
        ])).jsonString)
        let envelope = written { w in
            w.beginObject()
            w.literalMembers(#""type":"res","id":"#); w.string("7")
            w.literalMembers(#""ok":true,"payload":"#); w.beginObject(); w.endObject()
            w.endObject()
        }
        #expect(envelope == JSONValue.object(JSONObject([
            ("type", "res"), ("id", "7"), ("ok", true), ("payload", .object(JSONObject())),
        ])).jsonString)
    }

    /// `encoding` hands over the very bytes `appending` would append, from the stack buffer
    /// for a short answer and from the spill array for a long one, which it leaves empty
    /// with its capacity kept for the next answer.
    @Test func encodingDeliversWhatAppendingWrites() {
        let long = String(repeating: "é\"", count: 2_000)
        let bodies: [(inout JSONByteWriter) -> Void] = [
            { w in w.beginObject(); w.key("type"); w.encoded("\"res\""); w.key("id"); w.string("7"); w.endObject() },
            { w in w.beginArray(); w.string(long); w.encoded(Array(repeating: UInt8(ascii: "1"), count: 3_000)); w.endArray() },
            { w in w.value(.string(String(repeating: "x", count: 1_022))) },  // exactly the stack buffer
            { _ in },
        ]
        var spill: [UInt8] = []
        for body in bodies {
            var expected: [UInt8] = []
            JSONByteWriter.appending(to: &expected, body)
            var delivered: [UInt8]?
            JSONByteWriter.encoding(spillingInto: &spill, body) { span in
                var copy: [UInt8] = []
                for i in span.indices { copy.append(span[i]) }
                delivered = copy
            }
            #expect(delivered == expected)
            #expect(spill.isEmpty)
        }
        #expect(spill.capacity >= 7_000)
    }
}
