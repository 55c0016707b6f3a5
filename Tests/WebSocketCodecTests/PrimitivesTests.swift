import Testing
@testable import WebSocketCodec

private func hex(_ bytes: [UInt8]) -> String {
    bytes.map { String($0, radix: 16).count == 1 ? "0" + String($0, radix: 16) : String($0, radix: 16) }.joined()
}

@Suite struct SHA1Tests {
    @Test(arguments: [
        ("abc", "a9993e364706816aba3e25717850c26c9cd0d89d"),
        ("", "da39a3ee5e6b4b0d3255bfef95601890afd80709"),
        ("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", "84983e441c3bd26ebaae4aa1f95129e5e54670f1"),
    ])
    func fipsVectors(input: String, digest: String) {
        #expect(hex(SHA1.hash(Array(input.utf8))) == digest)
    }

    @Test func oneMillionA() {
        #expect(hex(SHA1.hash([UInt8](repeating: UInt8(ascii: "a"), count: 1_000_000)))
            == "34aa973cd4c4daa4f61eeb2bdbad27316534016f")
    }

    @Test func blockBoundaries() {
        // 55, 56 and 64 bytes straddle the padding cases.
        #expect(hex(SHA1.hash([UInt8](repeating: 0x61, count: 55))) == "c1c8bbdc22796e28c0e15163d20899b65621d65a")
        #expect(hex(SHA1.hash([UInt8](repeating: 0x61, count: 56))) == "c2db330f6083854c99d4b5bfb6e8f29f201be699")
        #expect(hex(SHA1.hash([UInt8](repeating: 0x61, count: 64))) == "0098ba824b5c16427bd7a1122a5a442a25ec644d")
    }
}

@Suite struct Base64Tests {
    @Test(arguments: [("", ""), ("f", "Zg=="), ("fo", "Zm8="), ("foo", "Zm9v"), ("foob", "Zm9vYg=="),
                      ("fooba", "Zm9vYmE="), ("foobar", "Zm9vYmFy")])
    func rfc4648Vectors(plain: String, encoded: String) {
        #expect(Base64.encode(Array(plain.utf8)) == encoded)
        #expect(Base64.decode(encoded) == Array(plain.utf8))
    }

    @Test(arguments: ["Zg=", "Z===", "Zh==", "Zm9=", "Zm9v YmFy", "Zg==Zg==", "Zm9v\n", "====", "Zm*v"])
    func rejectsMalformed(input: String) {
        #expect(Base64.decode(input) == nil)
    }

    @Test func allByteValuesRoundTrip() {
        let bytes = (0...255).map(UInt8.init)
        for n in 0..<bytes.count { #expect(Base64.decode(Base64.encode(Array(bytes[..<n]))) == Array(bytes[..<n])) }
    }
}

@Suite struct UTF8ValidatorTests {
    @Test(arguments: [
        [], [0x41], Array("héllo €𝄞 wörld, long enough for the word loop".utf8), [0xF0, 0x9F, 0x98, 0x80],
        [0xEF, 0xBF, 0xBF], [0xF4, 0x8F, 0xBF, 0xBF], [0xED, 0x9F, 0xBF],
    ] as [[UInt8]])
    func valid(bytes: [UInt8]) {
        #expect(UTF8Validator.isValid(bytes))
    }

    @Test(arguments: [
        [0x80], [0xC0, 0x80], [0xC1, 0xBF], [0xE0, 0x80, 0x80], [0xE0, 0x9F, 0xBF], [0xED, 0xA0, 0x80],
        [0xF0, 0x8F, 0xBF, 0xBF], [0xF4, 0x90, 0x80, 0x80], [0xF5, 0x80, 0x80, 0x80], [0xFF], [0xE2, 0x82],
        Array("12345678".utf8) + [0xC3],
    ] as [[UInt8]])
    func invalid(bytes: [UInt8]) {
        #expect(!UTF8Validator.isValid(bytes))
    }

    @Test func carriesStateAcrossChunks() {
        let euro: [UInt8] = [0xE2, 0x82, 0xAC]
        for split in 0...euro.count {
            var v = UTF8Validator()
            #expect(euro[..<split].withUnsafeBytes { v.consume($0) })
            #expect(v.isAtBoundary == (split == 0 || split == 3))
            #expect(euro[split...].withUnsafeBytes { v.consume($0) })
            #expect(v.isAtBoundary)
        }
    }
}

@Suite struct CloseCodeTests {
    @Test func sendable() {
        for code: UInt16 in [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 4000, 4999] {
            #expect(WebSocketCloseCode(code).isSendable, "\(code)")
        }
        for code: UInt16 in [0, 999, 1004, 1005, 1006, 1015, 1016, 2000, 2999, 5000, 65535] {
            #expect(!WebSocketCloseCode(code).isSendable, "\(code)")
        }
    }

    @Test func closePayloadTruncatesOnScalarBoundary() {
        let payload = FrameEncoder.closePayload(code: .goingAway, reason: String(repeating: "é", count: 100))
        #expect(payload.count == 124)
        #expect(payload[0] == 0x03 && payload[1] == 0xE9)
        #expect(UTF8Validator.isValid(payload[2...]))
        #expect(FrameEncoder.closePayload(code: .normalClosure, reason: "") == [0x03, 0xE8])
    }
}
