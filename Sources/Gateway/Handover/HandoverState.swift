/// What one gateway process hands its next instance on a restart, besides the sockets
/// themselves: enough for each client connection to carry on as if nothing happened.
///
/// Pure data and its encoding, no I/O (the fuzz target compiles this file and the decoder
/// alone). The bytes travel in a memfd through systemd's file descriptor store; see
/// docs/handover.md for the format and what each version added.
struct HandoverState: Equatable, Sendable {
    /// Written by this build. A build reads every version in `HandoverDecoder.readers`, so an
    /// upgrade (old writer, new reader) works; a version it does not know closes the clients.
    static let currentVersion: UInt16 = 1
    static let magic: [UInt8] = Array("OCHO".utf8)

    /// The process that wrote it (for the log of the one that reads it).
    var fromPid: Int32
    var handedAtMs: Int64
    /// Connection ids continue from here, so a restored `c17` and a new `c17` never coexist.
    var nextConnId: UInt64
    /// `stateVersion` continues too: clients order presence and health snapshots by it.
    var presenceVersion: Int64
    var healthVersion: Int64
    var connections: [HandoverConnection]

    /// Header (magic, version, reserved), a `gateway` record, one record per connection, and an
    /// `end` record with the FNV-1a 64 checksum of every byte before it.
    func encoded() -> [UInt8] {
        var out = Self.magic
        HandoverWriter.u16(Self.currentVersion, &out)
        HandoverWriter.u16(0, &out)
        HandoverWriter.record(.gateway, &out) { body in
            HandoverWriter.u32(UInt32(bitPattern: fromPid), &body)
            HandoverWriter.u64(UInt64(bitPattern: handedAtMs), &body)
            HandoverWriter.u64(nextConnId, &body)
            HandoverWriter.u64(UInt64(bitPattern: presenceVersion), &body)
            HandoverWriter.u64(UInt64(bitPattern: healthVersion), &body)
            HandoverWriter.u32(UInt32(connections.count), &body)
        }
        for connection in connections {
            HandoverWriter.record(.connection, &out) { connection.encode(into: &$0) }
        }
        let checksum = HandoverChecksum.of(out[...])
        HandoverWriter.record(.end, &out) { HandoverWriter.u64(checksum, &$0) }
        return out
    }
}

/// One client socket's state. The socket is found again by its identity (device and inode),
/// not by descriptor number or order: the store does not keep an order.
struct HandoverConnection: Equatable, Sendable {
    enum Phase: UInt8, Sendable {
        /// Reading the HTTP head: `input` holds what arrived of it.
        case http = 0
        /// Upgraded, waiting for `connect`.
        case awaitingConnect = 1
        /// Past hello-ok.
        case ready = 2
    }

    struct Client: Equatable, Sendable {
        var id: String
        var role: String
        var version: String?
        var platform: String?
        var mode: String?
        var displayName: String?
        var instanceId: String?
    }

    var device: UInt64
    var inode: UInt64
    var id: String
    var phase: Phase
    /// The `seq` of the last event sent; the next one gets seq + 1.
    var seq: Int64
    var connectedWallMs: Int64
    var client: Client?
    var scopes: [String]
    var presenceText: String?
    /// Bytes received and not yet handled: a partial HTTP head, or a partial frame (with the
    /// fragments of a message in progress) as `WebSocketParser.pendingInput` gives them.
    var input: [UInt8]
    /// Bytes queued for the client and not yet written (they may end in the middle of a frame).
    var output: [UInt8]

    func encode(into body: inout [UInt8]) {
        HandoverWriter.u64(device, &body)
        HandoverWriter.u64(inode, &body)
        HandoverWriter.string(id, &body)
        body.append(phase.rawValue)
        HandoverWriter.u64(UInt64(bitPattern: seq), &body)
        HandoverWriter.u64(UInt64(bitPattern: connectedWallMs), &body)
        if let client {
            body.append(1)
            HandoverWriter.string(client.id, &body)
            HandoverWriter.string(client.role, &body)
            for value in [client.version, client.platform, client.mode, client.displayName, client.instanceId] {
                HandoverWriter.optional(value, &body)
            }
        } else {
            body.append(0)
        }
        HandoverWriter.u32(UInt32(scopes.count), &body)
        for scope in scopes { HandoverWriter.string(scope, &body) }
        HandoverWriter.optional(presenceText, &body)
        HandoverWriter.bytes(input, &body)
        HandoverWriter.bytes(output, &body)
    }
}

/// Record kinds: one byte, then the body's length (u32), then the body.
enum HandoverRecordKind: UInt8, Sendable {
    case end = 0
    case gateway = 1
    case connection = 2
}

/// Big-endian fields: fixed-size integers, and strings and byte blobs prefixed by a u32 length.
enum HandoverWriter {
    static func u16(_ v: UInt16, _ out: inout [UInt8]) {
        out.append(UInt8(v >> 8))
        out.append(UInt8(v & 0xFF))
    }

    static func u32(_ v: UInt32, _ out: inout [UInt8]) {
        for shift in stride(from: 24, through: 0, by: -8) { out.append(UInt8(truncatingIfNeeded: v >> UInt32(shift))) }
    }

    static func u64(_ v: UInt64, _ out: inout [UInt8]) {
        for shift in stride(from: 56, through: 0, by: -8) { out.append(UInt8(truncatingIfNeeded: v >> UInt64(shift))) }
    }

    static func bytes(_ v: [UInt8], _ out: inout [UInt8]) {
        u32(UInt32(v.count), &out)
        out.append(contentsOf: v)
    }

    static func string(_ v: String, _ out: inout [UInt8]) {
        u32(UInt32(v.utf8.count), &out)
        out.append(contentsOf: v.utf8)
    }

    /// A presence byte (0 absent, 1 present), then the string.
    static func optional(_ v: String?, _ out: inout [UInt8]) {
        guard let v else { return out.append(0) }
        out.append(1)
        string(v, &out)
    }

    /// Appends kind, a length placeholder, the body, then patches the length.
    static func record(_ kind: HandoverRecordKind, _ out: inout [UInt8], _ body: (inout [UInt8]) -> Void) {
        out.append(kind.rawValue)
        let lengthAt = out.count
        u32(0, &out)
        body(&out)
        let length = UInt32(out.count - lengthAt - 4)
        for i in 0..<4 { out[lengthAt + i] = UInt8(truncatingIfNeeded: length >> UInt32(24 - 8 * i)) }
    }
}

/// FNV-1a 64: cheap, and enough to tell a torn or foreign file from ours (not an integrity
/// guard against an attacker: only systemd and the previous instance can put a file in the store).
enum HandoverChecksum {
    static let seed: UInt64 = 0xcbf2_9ce4_8422_2325

    static func update(_ hash: inout UInt64, _ bytes: some Sequence<UInt8>) {
        for b in bytes {
            hash ^= UInt64(b)
            hash = hash &* 0x0000_0100_0000_01b3
        }
    }

    static func of(_ bytes: ArraySlice<UInt8>) -> UInt64 {
        var hash = seed
        update(&hash, bytes)
        return hash
    }
}
