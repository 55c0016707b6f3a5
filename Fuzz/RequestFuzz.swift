// libFuzzer target for the request hot path's reader: JSONObjectReader (JSONCore) and
// RequestEnvelope (Sources/GatewayProtocol/RequestEnvelope.swift, compiled with it by
// scripts/fuzz.sh). The input is one WebSocket text payload as a client could send it.
//
// Invariants: reading never crashes; the reader accepts exactly the objects
// `JSONValue.parse` accepts (whether the caller reads every value as a tree, as a
// string, compares it to a literal, or stops after the first key) and yields the same
// members, `keyIs` agreeing with the key; for a document that starts as an object it
// refuses with the same error; RequestEnvelope returns a request exactly when the parsed
// tree is one (first `type` "req", first `id` and `method` non-empty strings) and then
// the same id, method and params.

import JSONCore

@_cdecl("LLVMFuzzerTestOneInput")
public func requestFuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    let parsed = Result { () throws(JSONParseError) in try JSONValue.parse(bytes, maxDepth: 64) }

    // Read every value as a tree, every value as a string, or stop after the first key;
    // keys are also compared through keyIs and values through valueIs against the first byte.
    let strategy = size % 4
    let read = Result { () throws(JSONParseError) -> [(String, JSONValue?)] in
        var members: [(String, JSONValue?)] = []
        try JSONObjectReader.read(bytes, maxDepth: 64) { reader throws(JSONParseError) in
            while try reader.nextMember() {
                let key = reader.key
                precondition(reader.keyIs("type") == (key == "type"), "keyIs(type) disagrees for \(key)")
                switch strategy {
                case 0: members.append((key, try reader.value()))
                case 1: members.append((key, try reader.stringValue().map(JSONValue.string)))
                case 2: members.append((key, try reader.valueIs("req") ? "req" : nil))
                default:
                    members.append((key, nil))
                    return
                }
            }
        }
        return members
    }
    switch (parsed, read) {
    case (.success(.object(let object)), .success(let members)):
        if strategy == 3 {
            precondition(members.map(\.0) == Array(object.keys.prefix(1)), "first key differs")
        } else {
            precondition(members.map(\.0) == object.keys, "keys differ")
            for (member, entry) in zip(members, object.entries) {
                let expected: JSONValue? = switch strategy {
                case 0: entry.value
                case 1: entry.value.stringValue.map(JSONValue.string)
                default: entry.value == "req" ? "req" : nil
                }
                precondition(member.1 == expected, "value of \(member.0) differs")
            }
        }
    case (.success(.object), .failure(let error)):
        preconditionFailure("reader refused an object parse accepts: \(error)")
    case (.success, .success):
        preconditionFailure("reader accepted a document that is not an object")
    case (.failure, .success):
        preconditionFailure("reader accepted what parse refuses")
    case (.failure(let parseError), .failure(let readError)):
        let first = bytes.first { ![0x20, 0x0A, 0x0D, 0x09].contains($0) }
        precondition(first != UInt8(ascii: "{") || parseError == readError, "errors differ: \(parseError) / \(readError)")
    case (.success, .failure):
        break  // another value: refused as not an object
    }

    let envelope = RequestEnvelope(reading: bytes)
    var expected: RequestEnvelope?
    if case .success(.object(let o)) = parsed, o["type"] == "req", let id = o["id"]?.stringValue, !id.isEmpty,
       let method = o["method"]?.stringValue, !method.isEmpty {
        expected = RequestEnvelope(id: id, method: method, params: o["params"])
    }
    // Depth: the envelope reads with parse's default limit (128), this target parses with 64.
    if case .failure(let error) = parsed, error.message.contains("nesting deeper") { return 0 }
    precondition(envelope == expected, "envelope \(String(describing: envelope)) != \(String(describing: expected))")
    return 0
}
