import Testing
@testable import WebSocketCodec

/// What a parser made of some input: the messages, then the error if one was thrown.
private struct Outcome: Equatable {
    var messages: [WebSocketMessage] = []
    var error: WebSocketProtocolError?

    var closeCode: UInt16? { error?.closeCode.rawValue }
}

private func drain(_ parser: inout WebSocketParser, into outcome: inout Outcome) {
    guard outcome.error == nil else { return }
    do {
        while let message = try parser.next() { outcome.messages.append(message) }
    } catch {
        outcome.error = error
    }
}

/// Feeds `bytes` in the given chunks, draining after each.
private func parse(_ role: WebSocketRole, _ chunks: [ArraySlice<UInt8>], max: Int = 1 << 20) -> Outcome {
    var parser = WebSocketParser(role: role, maxMessageSize: max)
    var outcome = Outcome()
    for chunk in chunks {
        parser.feed(Array(chunk))
        drain(&parser, into: &outcome)
    }
    return outcome
}

/// Parses whole, one byte at a time, and split in two at every boundary; all must agree.
private func parseEverySplit(_ role: WebSocketRole, _ bytes: [UInt8], max: Int = 1 << 20,
                             sourceLocation: SourceLocation = #_sourceLocation) -> Outcome {
    let whole = parse(role, [bytes[...]], max: max)
    let bytewise = parse(role, bytes.indices.map { bytes[$0...$0] }, max: max)
    #expect(bytewise.messages == whole.messages && bytewise.closeCode == whole.closeCode, "byte at a time",
            sourceLocation: sourceLocation)
    for split in 0...bytes.count {
        let outcome = parse(role, [bytes[..<split], bytes[split...]], max: max)
        #expect(outcome.messages == whole.messages && outcome.closeCode == whole.closeCode, "split at \(split)",
                sourceLocation: sourceLocation)
    }
    return whole
}

private func frame(_ opcode: UInt8, _ payload: [UInt8], fin: Bool = true, mask: Bool = true, rsv: UInt8 = 0) -> [UInt8] {
    var out: [UInt8] = [(fin ? 0x80 : 0) | rsv | opcode]
    let m: UInt8 = mask ? 0x80 : 0
    if payload.count <= 125 {
        out.append(m | UInt8(payload.count))
    } else if payload.count <= 0xFFFF {
        out += [m | 126, UInt8(payload.count >> 8), UInt8(payload.count & 0xFF)]
    } else {
        out.append(m | 127)
        for shift in stride(from: 56, through: 0, by: -8) { out.append(UInt8(truncatingIfNeeded: payload.count >> shift)) }
    }
    let key: [UInt8] = [0xA1, 0x07, 0x5C, 0xE3]
    if mask { out += key }
    out += payload.enumerated().map { mask ? $0.element ^ key[$0.offset % 4] : $0.element }
    return out
}

private let hello = Array("Hello".utf8)

@Suite struct RFCExamples {
    @Test func unmaskedText() {
        let out = parseEverySplit(.client, [0x81, 0x05, 0x48, 0x65, 0x6C, 0x6C, 0x6F])
        #expect(out == Outcome(messages: [.text(hello)]))
    }

    @Test func maskedText() {
        let out = parseEverySplit(.server, [0x81, 0x85, 0x37, 0xFA, 0x21, 0x3D, 0x7F, 0x9F, 0x4D, 0x51, 0x58])
        #expect(out == Outcome(messages: [.text(hello)]))
    }

    @Test func fragmentedUnmaskedText() {
        let out = parseEverySplit(.client, [0x01, 0x03, 0x48, 0x65, 0x6C, 0x80, 0x02, 0x6C, 0x6F])
        #expect(out == Outcome(messages: [.text(hello)]))
    }

    @Test func unmaskedPingAndMaskedPong() {
        #expect(parseEverySplit(.client, [0x89, 0x05, 0x48, 0x65, 0x6C, 0x6C, 0x6F]) == Outcome(messages: [.ping(hello)]))
        #expect(parseEverySplit(.server, [0x8A, 0x85, 0x37, 0xFA, 0x21, 0x3D, 0x7F, 0x9F, 0x4D, 0x51, 0x58])
            == Outcome(messages: [.pong(hello)]))
    }

    @Test func sixteenAndSixtyFourBitLengths() {
        let small = (0..<256).map { UInt8($0 & 0xFF) }
        #expect(parse(.client, [([0x82, 0x7E, 0x01, 0x00] + small)[...]]) == Outcome(messages: [.binary(small)]))
        let big = (0..<65536).map { UInt8(truncatingIfNeeded: $0 * 7) }
        let bigFrame = [0x82, 0x7F, 0, 0, 0, 0, 0, 1, 0, 0] + big
        #expect(parse(.client, [bigFrame[...]]) == Outcome(messages: [.binary(big)]))
        // Splits around the header and the end only: every split of 64 KiB would be quadratic.
        for split in [1, 2, 5, 9, 10, 11, 4000, bigFrame.count - 1] {
            #expect(parse(.client, [bigFrame[..<split], bigFrame[split...]]) == Outcome(messages: [.binary(big)]))
        }
    }

    @Test func encoderProducesTheRFCBytes() {
        var out: [UInt8] = []
        FrameEncoder.append(.text, payload: hello, maskingKey: 0x37FA_213D, to: &out)
        #expect(out == [0x81, 0x85, 0x37, 0xFA, 0x21, 0x3D, 0x7F, 0x9F, 0x4D, 0x51, 0x58])
        out = []
        FrameEncoder.append(.text, payload: Array("Hel".utf8), fin: false, to: &out)
        FrameEncoder.append(.continuation, payload: Array("lo".utf8), to: &out)
        #expect(out == [0x01, 0x03, 0x48, 0x65, 0x6C, 0x80, 0x02, 0x6C, 0x6F])
    }
}

@Suite struct FrameRules {
    @Test func maskingDirection() {
        #expect(parseEverySplit(.server, frame(1, hello, mask: false)).closeCode == 1002)
        #expect(parseEverySplit(.client, frame(1, hello, mask: true)).closeCode == 1002)
        #expect(parseEverySplit(.server, frame(1, hello, mask: true)) == Outcome(messages: [.text(hello)]))
    }

    @Test(arguments: [0x40, 0x20, 0x10] as [UInt8])
    func reservedBits(rsv: UInt8) {
        #expect(parseEverySplit(.server, frame(1, hello, rsv: rsv)).closeCode == 1002)
    }

    @Test(arguments: [3, 4, 5, 6, 7, 11, 12, 13, 14, 15] as [UInt8])
    func reservedOpcodes(opcode: UInt8) {
        #expect(parseEverySplit(.server, frame(opcode, [])).closeCode == 1002)
    }

    @Test func controlFrames() {
        #expect(parseEverySplit(.server, frame(9, [UInt8](repeating: 1, count: 125))).messages.count == 1)
        #expect(parseEverySplit(.server, frame(9, [UInt8](repeating: 1, count: 126))).closeCode == 1002)
        #expect(parseEverySplit(.server, frame(9, hello, fin: false)).closeCode == 1002)
        #expect(parseEverySplit(.server, frame(10, [], fin: false)).closeCode == 1002)
    }

    @Test func controlFramesBetweenFragments() {
        let bytes = frame(1, Array("Hel".utf8), fin: false) + frame(9, [7]) + frame(0, [], fin: false)
            + frame(10, []) + frame(0, Array("lo".utf8)) + frame(2, [1, 2])
        #expect(parseEverySplit(.server, bytes) == Outcome(messages: [.ping([7]), .pong([]), .text(hello), .binary([1, 2])]))
        let binary = frame(2, [1], fin: false) + frame(8, [0x03, 0xE8]) + frame(0, [2])
        #expect(parseEverySplit(.server, binary) == Outcome(messages: [.close(code: 1000, reason: ""), .binary([1, 2])]))
    }

    @Test func fragmentSequencing() {
        #expect(parseEverySplit(.server, frame(0, hello)).closeCode == 1002)
        #expect(parseEverySplit(.server, frame(1, hello, fin: false) + frame(1, hello)).closeCode == 1002)
        #expect(parseEverySplit(.server, frame(2, hello, fin: false) + frame(2, hello)).closeCode == 1002)
        #expect(parseEverySplit(.server, frame(1, hello) + frame(0, hello)) == Outcome(messages: [.text(hello)],
            error: WebSocketProtocolError(.protocolError, "continuation frame without a message in progress")))
    }

    @Test func emptyFrames() {
        #expect(parseEverySplit(.server, frame(1, [])) == Outcome(messages: [.text([])]))
        #expect(parseEverySplit(.server, frame(2, [], fin: false) + frame(0, [])) == Outcome(messages: [.binary([])]))
    }

    @Test func topBitOfSixtyFourBitLength() {
        // Refused from the first length byte: nothing else needs to arrive.
        #expect(parse(.server, [[0x82, 0xFF, 0x80][...]]).closeCode == 1002)
        #expect(parseEverySplit(.server, [0x82, 0xFF, 0x80, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4]).closeCode == 1002)
    }

    @Test func oversizedFrameRefusedFromHeader() {
        // Only the header of a 2^40-byte frame: refused before any payload arrives.
        #expect(parse(.server, [[0x82, 0xFF, 0, 0, 0x01, 0, 0, 0, 0, 0][...]], max: 1024).closeCode == 1009)
        #expect(parse(.server, [[0x81, 0xFE, 0x04, 0x01][...]], max: 1024).closeCode == 1009)
        #expect(parseEverySplit(.server, frame(2, [UInt8](repeating: 0, count: 11)), max: 10).closeCode == 1009)
        #expect(parseEverySplit(.server, frame(2, [UInt8](repeating: 0, count: 10)), max: 10).messages.count == 1)
    }

    @Test func oversizedReassembledMessage() {
        let bytes = frame(1, [UInt8](repeating: 0x61, count: 6), fin: false) + frame(0, [UInt8](repeating: 0x61, count: 6))
        #expect(parseEverySplit(.server, bytes, max: 10).closeCode == 1009)
        #expect(parseEverySplit(.server, bytes, max: 12).messages == [.text([UInt8](repeating: 0x61, count: 12))])
        // Refused at the second header, before its payload.
        #expect(parse(.server, [bytes[..<(bytes.count - 6)]], max: 10).closeCode == 1009)
    }

    @Test func raisingTheLimitAfterTheHandshake() throws {
        var parser = WebSocketParser(role: .server, maxMessageSize: 4)
        parser.maxMessageSize = 64
        parser.feed(frame(1, hello))
        #expect(try parser.next() == .text(hello))
    }

    @Test func textMustBeUTF8() {
        #expect(parseEverySplit(.server, frame(1, [0x48, 0xC0, 0x80])).closeCode == 1007)
        #expect(parseEverySplit(.server, frame(2, [0xC0, 0x80])) == Outcome(messages: [.binary([0xC0, 0x80])]))
        let euro = frame(1, [0x41, 0xE2], fin: false) + frame(0, [0x82], fin: false) + frame(0, [0xAC])
        #expect(parseEverySplit(.server, euro) == Outcome(messages: [.text([0x41, 0xE2, 0x82, 0xAC])]))
        #expect(parseEverySplit(.server, frame(1, [0xE2, 0x82], fin: false) + frame(0, [])).closeCode == 1007)
    }

    @Test func invalidUTF8FailsAtTheFirstBadFragment() {
        // The final fragment never arrives: the first one is refused on its own.
        #expect(parse(.server, [frame(1, [0x41, 0xED, 0xA0, 0x80], fin: false)[...]]).closeCode == 1007)
    }

    @Test func invalidUTF8FailsBeforeItsFrameCompletes() {
        // Autobahn 6.4.3/6.4.4: one text frame arriving in pieces; the bad bytes
        // (a surrogate) are refused when they arrive, the rest of the frame never does.
        for (opening, fin) in [(UInt8(1), true), (1, false)] {
            let bytes = frame(opening, Array("κόσμε".utf8) + [0xED, 0xA0, 0x80] + Array("edited".utf8), fin: fin)
            let headerAndGood = bytes.count - 6 - 3
            #expect(parse(.server, [bytes[..<headerAndGood], bytes[headerAndGood..<(headerAndGood + 3)]]).closeCode == 1007)
            #expect(parse(.server, [bytes[..<headerAndGood]]) == Outcome())
        }
        // Inside a continuation frame of a text message, unmasked (client role) too.
        let continued = frame(1, [0x41], fin: false, mask: false) + frame(0, [0x42, 0xF4, 0x90, 0x80, 0x80, 0x43], mask: false)
        #expect(parse(.client, [continued[..<(continued.count - 2)]]).closeCode == 1007)
        // A valid text frame in pieces is still one message (every split: see parseEverySplit).
        let fine = Array("κόσμε ✓ text".utf8)
        #expect(parseEverySplit(.server, frame(1, fine)) == Outcome(messages: [.text(fine)]))
        #expect(parseEverySplit(.server, frame(1, fine, fin: false) + frame(0, fine)) == Outcome(messages: [.text(fine + fine)]))
    }

    @Test func closeFrames() {
        #expect(parseEverySplit(.server, frame(8, [])) == Outcome(messages: [.close(code: nil, reason: "")]))
        #expect(parseEverySplit(.server, frame(8, [0x03])).closeCode == 1002)
        let bye = frame(8, [0x03, 0xE9] + Array("bye ✓".utf8))
        #expect(parseEverySplit(.server, bye) == Outcome(messages: [.close(code: 1001, reason: "bye ✓")]))
        #expect(parseEverySplit(.client, frame(8, [0x0F, 0xA0], mask: false)) == Outcome(messages: [.close(code: 4000, reason: "")]))
        for code: UInt16 in [0, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000] {
            #expect(parseEverySplit(.server, frame(8, [UInt8(code >> 8), UInt8(code & 0xFF)])).closeCode == 1002, "\(code)")
        }
        #expect(parseEverySplit(.server, frame(8, [0x03, 0xE8, 0xFF])).closeCode == 1007)
    }

    @Test func errorsAreSticky() {
        var parser = WebSocketParser(role: .server, maxMessageSize: 100)
        parser.feed(frame(1, hello, mask: false))
        #expect(throws: WebSocketProtocolError.self) { try parser.next() }
        parser.feed(frame(1, hello))
        #expect(throws: WebSocketProtocolError(.protocolError, "client frame is not masked")) { try parser.next() }
        #expect(parser.bufferedByteCount == 0)
    }

    /// `nextInput` lends text from the parser's buffer; a message kept past the next read
    /// must not see the buffer reused under it (masked, so unmasking in place is exercised).
    @Test func lentTextSurvivesTheNextRead() throws {
        var parser = WebSocketParser(role: .server, maxMessageSize: 100)
        parser.feed(frame(1, Array("first ✓".utf8)) + frame(1, Array("second".utf8)))
        guard case .text(let first)? = try parser.nextInput() else { Issue.record("no text"); return }
        parser.feed(frame(1, Array("third".utf8)))
        guard case .text(let second)? = try parser.nextInput() else { Issue.record("no text"); return }
        #expect(try parser.next() == .text(Array("third".utf8)))
        #expect(try parser.nextInput() == nil)
        parser.feed(frame(1, Array("fourth".utf8)))
        #expect(try parser.next() == .text(Array("fourth".utf8)))
        #expect(Array(first) == Array("first ✓".utf8) && Array(second) == Array("second".utf8))
    }

    @Test func manyMessagesInOneFeed() throws {
        var bytes: [UInt8] = []
        for i in 0..<1000 { bytes += frame(1, Array("message \(i)".utf8)) }
        var parser = WebSocketParser(role: .server, maxMessageSize: 100)
        parser.feed(bytes)
        for i in 0..<1000 { #expect(try parser.next() == .text(Array("message \(i)".utf8))) }
        #expect(try parser.next() == nil)
        #expect(parser.bufferedByteCount == 0)
    }
}

@Suite struct EncoderRoundTrip {
    @Test(arguments: [0, 1, 3, 7, 8, 9, 125, 126, 127, 1000, 65535, 65536, 70001])
    func maskedClientToServer(size: Int) throws {
        let payload = (0..<size).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 5) }
        var out: [UInt8] = []
        FrameEncoder.append(.binary, payload: payload, maskingKey: 0xDEAD_BEEF, to: &out)
        var server = WebSocketParser(role: .server, maxMessageSize: 1 << 20)
        server.feed(out)
        #expect(try server.next() == .binary(payload))
        out = []
        FrameEncoder.append(.binary, payload: payload, to: &out)
        var client = WebSocketParser(role: .client, maxMessageSize: 1 << 20)
        client.feed(out)
        #expect(try client.next() == .binary(payload))
        #expect(out.count == size + (size <= 125 ? 2 : size <= 65535 ? 4 : 10))
    }

    /// A header built as a value, followed by its payload, is the frame `append` writes,
    /// at every length encoding, masked or not.
    @Test(arguments: [0, 1, 125, 126, 4000, 65535, 65536])
    func headerValueThenPayloadIsTheFrame(size: Int) {
        let payload = (0..<size).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ 1) }
        for key: UInt32? in [nil, 0xDEAD_BEEF] {
            for fin in [true, false] {
                var expected: [UInt8] = []
                FrameEncoder.append(.text, payload: payload, fin: fin, maskingKey: key, to: &expected)
                let header = FrameHeader(.text, payloadCount: size, fin: fin, maskingKey: key)
                var head: [UInt8] = []
                header.withSpan { span in
                    for i in span.indices { head.append(span[i]) }
                }
                #expect(head.count == header.count)
                #expect(head == Array(expected[..<header.count]))
                if key == nil { #expect(head + payload == expected) }
            }
        }
    }

    @Test func closeRoundTrip() throws {
        var out: [UInt8] = []
        FrameEncoder.append(.close, payload: FrameEncoder.closePayload(code: .serviceRestart, reason: "restarting"),
                            maskingKey: 1, to: &out)
        var server = WebSocketParser(role: .server, maxMessageSize: 10)
        server.feed(out)
        #expect(try server.next() == .close(code: 1012, reason: "restarting"))
    }
}
