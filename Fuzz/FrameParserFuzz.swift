// libFuzzer entry point for WebSocketParser, compiled together with
// Sources/WebSocketCodec by scripts/fuzz.sh (not part of the package).
//
// Byte 0 picks the role and a size limit, byte 1 a chunk size, so one input
// explores both roles and many split points; the rest is the stream. Beyond
// "no crash", it checks the parser's promises: text is valid UTF-8, data
// messages respect the limit, errors are sticky, and what the encoder writes
// the parser reads back unchanged. Messages are read as the gateway reads them
// (`nextInput`, text lent from the buffer); the round trip reads through `next`.

@_cdecl("LLVMFuzzerTestOneInput")
public func frameParserFuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard size >= 2 else { return 0 }
    let input = UnsafeBufferPointer(start: data, count: size)
    let role: WebSocketRole = input[0] & 1 == 0 ? .server : .client
    let limit = Int(input[0] >> 1) * 97
    let chunk = max(1, Int(input[1]))
    let stream = UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(input)[2...])

    var parser = WebSocketParser(role: role, maxMessageSize: limit)
    var offset = 0
    feeding: while offset < stream.count {
        let end = min(stream.count, offset + chunk)
        parser.feed(UnsafeRawBufferPointer(rebasing: stream[offset..<end]))
        offset = end
        while true {
            do {
                guard let message = try parser.nextInput() else { break }
                switch message {
                case .text(let bytes):
                    precondition(bytes.count <= limit && UTF8Validator.isValid(bytes))
                case .binary(let bytes):
                    precondition(bytes.count <= limit)
                case .ping(let bytes), .pong(let bytes):
                    precondition(bytes.count <= 125)
                case .close(let code, _):
                    precondition(code.map { WebSocketCloseCode($0).isSendable } ?? true)
                }
            } catch {
                let again = Result { () throws(WebSocketProtocolError) in try parser.next() }
                precondition(again == .failure(error), "errors must be sticky")
                break feeding
            }
        }
    }

    // Round trip: the stream as one payload, through encoder and parser of the opposite roles.
    let payload = Array(stream)
    var frame: [UInt8] = []
    let key: UInt32? = role == .server ? UInt32(truncatingIfNeeded: size &* 2_654_435_761) : nil
    FrameEncoder.append(.binary, payload: payload, maskingKey: key, to: &frame)
    var reader = WebSocketParser(role: role, maxMessageSize: payload.count)
    reader.feed(frame)
    precondition((try? reader.next()) == .binary(payload), "encoder/parser round trip")
    return 0
}
