// libFuzzer entry point for HTTPHeadParser and the upgrade checks, compiled
// together with Sources/WebSocketCodec by scripts/fuzz.sh.
//
// Byte 0 picks request or response parsing and a chunk size; any parsed head
// then goes through ServerHandshake / ClientHandshake, which must not crash on
// whatever header values the parser let through.

@_cdecl("LLVMFuzzerTestOneInput")
public func httpHeadFuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard size >= 1 else { return 0 }
    let input = UnsafeRawBufferPointer(start: data, count: size)
    let kind: HTTPHeadParser.Kind = input[0] & 1 == 0 ? .request : .response
    let chunk = max(1, Int(input[0] >> 1))
    let stream = UnsafeRawBufferPointer(rebasing: input[1...])

    var parser = HTTPHeadParser(maxBytes: 4096, kind: kind)
    var offset = 0
    while offset < stream.count {
        let end = min(stream.count, offset + chunk)
        let result: (head: HTTPHead, leftover: [UInt8])?
        do {
            result = try parser.feed(UnsafeRawBufferPointer(rebasing: stream[offset..<end]))
        } catch {
            precondition([400, 431, 505].contains(error.status))
            return 0
        }
        offset = end
        guard let (head, leftover) = result else { continue }
        precondition(offset - leftover.count <= 4096 + 1, "head longer than maxBytes")
        switch kind {
        case .request:
            if case .accept(let response) = ServerHandshake.evaluate(head) {
                var client = HTTPHeadParser(kind: .response)
                guard let reply = try? client.feed(response), let key = head.header("Sec-WebSocket-Key") else {
                    preconditionFailure("the 101 answer must parse")
                }
                precondition(ClientHandshake.validate(response: reply.head, key: key) == nil)
            }
        case .response:
            _ = ClientHandshake.validate(response: head, key: "dGhlIHNhbXBsZSBub25jZQ==")
        }
        return 0
    }
    return 0
}
