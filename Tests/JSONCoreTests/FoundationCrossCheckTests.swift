import Foundation
import JSONCore
import Testing

/// Foundation is only a referee here: whatever we accept, Foundation must read
/// our output as the same document it reads from the original text.
@Suite struct FoundationCrossCheckTests {
    static let documents: [String] = ConformanceTests.mustAccept.filter { $0 != #"{"a":"b","a":"c"}"# } + [
        #"{"type":"req","id":"42","method":"health","params":{}}"#,
        #"{"type":"event","event":"tick","seq":918273,"payload":{"ts":1767225600123,"load":[0.5,0.25,1e-3]}}"#,
        #"{"text":"quote \" backslash \\ tab \t nl \n ctrl \u0001 é 😀 \ud83d\ude00"}"#,
        #"[0.1,0.2,0.30000000000000004,1.7976931348623157e308,5e-324,-0.0,123456789012345678901234567890]"#,
    ]

    @Test(arguments: documents)
    func foundationAgreesWithUs(_ text: String) throws {
        let ours = try JSONValue.parse(text)
        let foundation = try JSONSerialization.jsonObject(with: Data(text.utf8), options: .fragmentsAllowed)
        #expect(Self.normalized(ours) == Self.normalized(foundation), "\(text)")
        for output in [ours.serialized(), Array(ours.prettyPrinted().utf8)] {
            let reread = try JSONSerialization.jsonObject(with: Data(output), options: .fragmentsAllowed)
            #expect(Self.normalized(reread) == Self.normalized(ours), "\(text) → \(String(decoding: output, as: UTF8.self))")
        }
    }

    /// The value as Foundation models it: numbers are just doubles and object
    /// keys are unordered.
    static func normalized(_ value: JSONValue) -> JSONValue {
        switch value {
        case .int(let number): .double(Double(number))
        case .array(let elements): .array(elements.map(normalized))
        case .object(let object):
            .object(JSONObject(object.entries.sorted { $0.key < $1.key }.map { ($0.key, normalized($0.value)) }))
        default: value
        }
    }

    static func normalized(_ object: Any) -> JSONValue {
        switch object {
        case let dictionary as [String: Any]:
            .object(JSONObject(dictionary.keys.sorted().map { ($0, normalized(dictionary[$0]!)) }))
        case let array as [Any]: .array(array.map(normalized))
        case let string as String: .string(string)
        case is NSNull: .null
        // NSDecimalNumber.doubleValue is not correctly rounded; its text is exact.
        case let decimal as NSDecimalNumber: .double(Double(decimal.description)!)
        case let number as NSNumber where String(cString: number.objCType) == "c": .bool(number.boolValue)
        case let number as NSNumber: .double(number.doubleValue)
        default: .string("unexpected \(type(of: object))")
        }
    }

    @Test func weReadFoundationOutput() throws {
        let object: [String: Any] = ["s": "a\"b\\c\u{1}é/", "n": 42, "d": 0.5, "b": true, "z": NSNull(), "a": [1, 2, 3]]
        let data = try JSONSerialization.data(withJSONObject: object)
        let value = try JSONValue.parse([UInt8](data))
        #expect(value["s"] == "a\"b\\c\u{1}é/")
        #expect(value["n"] == 42)
        #expect(value["d"] == 0.5)
        #expect(value["b"] == true)
        #expect(value["z"] == .null)
        #expect(value["a"] == [1, 2, 3])
    }
}
