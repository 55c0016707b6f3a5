@testable import Gateway
import Testing

/// The hand-over state format (docs/handover.md): what one instance writes, the next reads,
/// whatever the split of the bytes; anything else is refused with a reason, never misread.
@Suite struct HandoverFormat {
    static let ready = HandoverConnection(
        device: 8, inode: 41_7731, id: "c17", phase: .ready, seq: 4_242, connectedWallMs: 1_800_000_000_123,
        client: .init(id: "dashboard", role: "operator", version: "1.2", platform: "linux", mode: "ui",
                      displayName: "Zoë's laptop", instanceId: nil),
        scopes: ["operator.read", "operator.write"], presenceText: "on call",
        input: [0x81, 0x85, 0x01], output: Array(#"{"type":"event","event":"tick""#.utf8))
    static let upgrading = HandoverConnection(
        device: 8, inode: 41_7732, id: "c18", phase: .awaitingConnect, seq: 0, connectedWallMs: 1_800_000_000_200,
        client: nil, scopes: [], presenceText: nil, input: [], output: [])
    static let http = HandoverConnection(
        device: 8, inode: 41_7733, id: "c19", phase: .http, seq: 0, connectedWallMs: 1_800_000_000_300,
        client: nil, scopes: [], presenceText: nil, input: Array("GET / HTTP/1.1\r\nHo".utf8), output: [])
    static let state = HandoverState(fromPid: 4_321, handedAtMs: 1_800_000_001_000, nextConnId: 20,
                                     presenceVersion: 77, healthVersion: 3, connections: [ready, upgrading, http])

    static func decode(_ chunks: [ArraySlice<UInt8>], limits: HandoverLimits = HandoverLimits())
        throws(HandoverFormatError) -> HandoverState
    {
        var decoder = HandoverDecoder(limits: limits)
        for chunk in chunks { decoder.feed(Array(chunk)) }
        return try decoder.finish()
    }

    static func error(_ bytes: [UInt8], limits: HandoverLimits = HandoverLimits()) -> HandoverFormatError? {
        do { _ = try decode([bytes[...]], limits: limits) } catch { return error }
        return nil
    }

    @Test func roundTripAtEverySplit() throws {
        let bytes = Self.state.encoded()
        #expect(try Self.decode([bytes[...]]) == Self.state)
        #expect(try Self.decode(bytes.indices.map { bytes[$0...$0] }) == Self.state)
        for split in 0...bytes.count {
            #expect(try Self.decode([bytes[..<split], bytes[split...]]) == Self.state, "split at \(split)")
        }
    }

    @Test func emptyStateAndBigOutput() throws {
        let empty = HandoverState(fromPid: 1, handedAtMs: 0, nextConnId: 1, presenceVersion: 0, healthVersion: 0, connections: [])
        #expect(try Self.decode([empty.encoded()[...]]) == empty)
        var big = Self.ready
        big.output = (0..<300_000).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        let state = HandoverState(fromPid: 2, handedAtMs: 5, nextConnId: 9, presenceVersion: 1, healthVersion: 1, connections: [big])
        #expect(try Self.decode([state.encoded()[...]]) == state)
    }

    /// Bytes a v1 writer produced, kept as they were: every later build must read them
    /// (a package upgrade starts the new binary on the old binary's state).
    static let v1Fixture: [UInt8] = [
        0x4F, 0x43, 0x48, 0x4F, 0x00, 0x01, 0x00, 0x00,  // "OCHO", v1, reserved
        0x01, 0x00, 0x00, 0x00, 0x28,  // gateway record, 40 bytes
        0x00, 0x00, 0x00, 0x07,  0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x03, 0xE8,  0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x05,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x0C,  0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02,  // state versions
        0x00, 0x00, 0x00, 0x01,
        0x02, 0x00, 0x00, 0x00, 0x67,  // connection record, 103 bytes
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x08,  0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x63,  // device, inode
        0x00, 0x00, 0x00, 0x02, 0x63, 0x34,  // "c4"
        0x02,  // ready
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x0B,  // seq 11
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x07, 0xD0,  // connected at 2000
        0x01, 0x00, 0x00, 0x00, 0x03, 0x63, 0x6C, 0x69,  0x00, 0x00, 0x00, 0x08, 0x6F, 0x70, 0x65, 0x72, 0x61, 0x74, 0x6F, 0x72,  // client cli, role operator
        0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x03, 0x63, 0x6C, 0x69, 0x00, 0x00,  // no version/platform, mode "cli", no more
        0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x0D,  // one scope
        0x6F, 0x70, 0x65, 0x72, 0x61, 0x74, 0x6F, 0x72, 0x2E, 0x72, 0x65, 0x61, 0x64,  // "operator.read"
        0x00,  // no presence text
        0x00, 0x00, 0x00, 0x00,  0x00, 0x00, 0x00, 0x02, 0x88, 0x00,  // no input; output: a close frame's head
        0x00, 0x00, 0x00, 0x00, 0x08,  // end record
    ]

    static let v1FixtureState = HandoverState(fromPid: 7, handedAtMs: 1_000, nextConnId: 5, presenceVersion: 12, healthVersion: 2, connections: [
        HandoverConnection(device: 8, inode: 99, id: "c4", phase: .ready, seq: 11, connectedWallMs: 2_000,
                           client: .init(id: "cli", role: "operator", version: nil, platform: nil, mode: "cli",
                                         displayName: nil, instanceId: nil),
                           scopes: ["operator.read"], presenceText: nil, input: [], output: [0x88, 0x00]),
    ])

    static var v1FixtureWithChecksum: [UInt8] {
        // The checksum covers everything before the end record (its 5-byte head excluded).
        let sum = HandoverChecksum.of(v1Fixture.dropLast(5))
        return v1Fixture + (0..<8).reversed().map { UInt8(truncatingIfNeeded: sum >> ($0 * 8)) }
    }

    @Test func readsTheV1Fixture() throws {
        #expect(try Self.decode([Self.v1FixtureWithChecksum[...]]) == Self.v1FixtureState)
        // While v1 is current, the writer must produce the very same bytes.
        if HandoverState.currentVersion == 1 { #expect(Self.v1FixtureState.encoded() == Self.v1FixtureWithChecksum) }
    }

    @Test func unknownVersionIsRefusedNotMisread() {
        var bytes = Self.state.encoded()
        bytes[5] = 2
        #expect(Self.error(bytes) == .unsupportedVersion(2))
        #expect(Self.error(bytes)?.description.contains("v2 is not supported") == true)
        bytes[4] = 0xFF
        #expect(Self.error(bytes) == .unsupportedVersion(0xFF02))
    }

    @Test func everyTruncationIsRefused() {
        let bytes = Self.state.encoded()
        for length in 0..<bytes.count {
            #expect(Self.error(Array(bytes[..<length])) != nil, "length \(length)")
        }
        #expect(Self.error(Array(bytes[..<20])) == .truncated)
        #expect(Self.error(bytes + [0]) == .trailingBytes)
    }

    @Test func everyFlippedByteIsRefused() {
        let bytes = Self.state.encoded()
        for index in bytes.indices {
            var damaged = bytes
            damaged[index] ^= 0x20
            #expect(Self.error(damaged) != nil, "byte \(index)")
        }
    }

    @Test func garbage() {
        #expect(Self.error(Array("not a state at all".utf8)) == .notHandoverState)
        #expect(Self.error([]) == .truncated)
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<2_000 {
            let count = Int.random(in: 0..<200, using: &generator)
            var bytes = HandoverState.magic + [0, 1, 0, 0] + (0..<count).map { _ in UInt8.random(in: 0...255, using: &generator) }
            if bytes.count > 8, Bool.random(using: &generator) { bytes[8] = UInt8.random(in: 0...2, using: &generator) }
            #expect(Self.error(bytes) != nil)
        }
    }

    @Test func limits() {
        let bytes = Self.state.encoded()
        #expect(Self.error(bytes, limits: HandoverLimits(maxConnections: 2)) == .tooManyConnections(3))
        if case .recordTooLarge(let n)? = Self.error(bytes, limits: HandoverLimits(maxRecordBytes: 64)) {
            #expect(n > 64)
        } else {
            Issue.record("a record over maxRecordBytes was read")
        }
        if case .malformed(let why)? = Self.error(bytes, limits: HandoverLimits(maxStringBytes: 8)) {
            #expect(why.contains("over the limit"))
        } else {
            Issue.record("a long string passed maxStringBytes")
        }
        if case .malformed? = Self.error(bytes, limits: HandoverLimits(maxScopes: 1)) {} else {
            Issue.record("two scopes passed maxScopes 1")
        }
        // A record length over the limit is refused from its head, before its body arrives.
        var decoder = HandoverDecoder(limits: HandoverLimits(maxRecordBytes: 1 << 10))
        decoder.feed(HandoverState.magic + [0, 1, 0, 0, 2, 0x7F, 0xFF, 0xFF, 0xFF])
        #expect(throws: HandoverFormatError.recordTooLarge(0x7FFF_FFFF)) { try decoder.finish() }
    }

    @Test func inconsistentRecordsAreRefused() {
        var twoIds = Self.state
        twoIds.connections[1].id = "c17"
        #expect(Self.error(twoIds.encoded()) == .malformed("two connections named c17"))
        var twoSockets = Self.state
        twoSockets.connections[2].inode = Self.ready.inode
        #expect(Self.error(twoSockets.encoded()) == .malformed("two connections with one socket"))
        var readyWithoutClient = Self.state
        readyWithoutClient.connections[0].client = nil
        #expect(Self.error(readyWithoutClient.encoded()) != nil)
    }
}
