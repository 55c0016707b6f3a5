import Testing
@testable import WebSocketCodec

/// `pendingInput` moves a parser's state to a fresh parser (the gateway's hand-over to its
/// next instance): cut the input anywhere, carry the state over, and the messages are the
/// same as if one parser had read everything.
@Suite struct PendingInput {
    private static func frame(_ opcode: UInt8, _ payload: [UInt8], fin: Bool = true, mask: Bool) -> [UInt8] {
        var out: [UInt8] = [(fin ? 0x80 : 0) | opcode]
        let m: UInt8 = mask ? 0x80 : 0
        if payload.count <= 125 {
            out.append(m | UInt8(payload.count))
        } else {
            out += [m | 126, UInt8(payload.count >> 8), UInt8(payload.count & 0xFF)]
        }
        let key: [UInt8] = [0x3C, 0x91, 0x0E, 0x77]
        if mask { out += key }
        out += payload.enumerated().map { mask ? $0.element ^ key[$0.offset % 4] : $0.element }
        return out
    }

    private static func messages(_ parser: inout WebSocketParser) throws -> [WebSocketMessage] {
        var out: [WebSocketMessage] = []
        while let message = try parser.next() { out.append(message) }
        return out
    }

    /// A text message in three fragments (a ping between them, a multi-byte character cut by
    /// a fragment boundary), a 300-byte message (16-bit length) and a close.
    private static func stream(mask: Bool) -> [UInt8] {
        let euro: [UInt8] = [0xE2, 0x82, 0xAC]
        let long = [UInt8](repeating: UInt8(ascii: "x"), count: 300)
        return frame(1, Array("{\"a\":\"".utf8) + euro[0..<1], fin: false, mask: mask)
            + frame(9, Array("p".utf8), mask: mask)
            + frame(0, Array(euro[1...]) + Array("b".utf8), fin: false, mask: mask)
            + frame(0, Array("\"}".utf8), mask: mask)
            + frame(1, long, mask: mask)
            + frame(8, [0x03, 0xE8], mask: mask)
    }

    @Test(arguments: [WebSocketRole.server, .client])
    func everyCutCarriesOver(role: WebSocketRole) throws {
        let bytes = Self.stream(mask: role == .server)
        var whole = WebSocketParser(role: role, maxMessageSize: 1 << 16)
        whole.feed(bytes)
        let expected = try Self.messages(&whole)
        #expect(expected.count == 4)
        for cut in 0...bytes.count {
            var first = WebSocketParser(role: role, maxMessageSize: 1 << 16)
            first.feed(Array(bytes[..<cut]))
            var seen = try Self.messages(&first)
            var second = WebSocketParser(role: role, maxMessageSize: 1 << 16)
            second.feed(first.pendingInput)
            second.feed(Array(bytes[cut...]))
            seen += try Self.messages(&second)
            #expect(seen == expected, "cut at \(cut)")
        }
    }

    @Test func bigFragmentUsesSixtyFourBitLength() throws {
        let payload = [UInt8](repeating: UInt8(ascii: "y"), count: 70_000)
        var first = WebSocketParser(role: .server, maxMessageSize: 1 << 20)
        first.feed(Self.frame(1, Array(payload[..<40_000]), fin: false, mask: true))
        first.feed(Self.frame(0, Array(payload[40_000..<65_600]), fin: false, mask: true))
        #expect(try Self.messages(&first).isEmpty)
        var second = WebSocketParser(role: .server, maxMessageSize: 1 << 20)
        second.feed(first.pendingInput)
        second.feed(Self.frame(0, Array(payload[65_600...]), mask: true))
        #expect(try Self.messages(&second) == [.text(payload)])
    }

    @Test func nothingAfterAViolation() {
        var parser = WebSocketParser(role: .server, maxMessageSize: 1 << 16)
        parser.feed(Self.frame(1, Array("x".utf8), mask: false))
        #expect(throws: WebSocketProtocolError.self) { _ = try parser.next() }
        #expect(parser.pendingInput.isEmpty)
    }

    @Test func httpHeadCarriesOver() throws {
        let head = Array("GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\n\r\n".utf8)
        for cut in 0..<head.count {
            var first = HTTPHeadParser()
            #expect(try first.feed(Array(head[..<cut])) == nil)
            var second = HTTPHeadParser()
            _ = try second.feed(first.pendingInput)
            let result = try second.feed(Array(head[cut...]))
            #expect(result?.head.header("Upgrade") == "websocket", "cut at \(cut)")
        }
    }
}
