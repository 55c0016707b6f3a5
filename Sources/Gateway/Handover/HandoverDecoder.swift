/// Why a hand-over state was not read. Every case closes the stored clients with 1012: a state
/// half understood would be worse than none (wrong `seq`, another client's identity).
enum HandoverFormatError: Error, Equatable, Sendable, CustomStringConvertible {
    case notHandoverState
    case unsupportedVersion(UInt16)
    case truncated
    case recordTooLarge(Int)
    case tooManyConnections(Int)
    case malformed(String)
    case checksumMismatch
    case trailingBytes

    var description: String {
        switch self {
        case .notHandoverState: "not a hand-over state (wrong magic)"
        case .unsupportedVersion(let v): "hand-over format v\(v) is not supported by this build (it reads v"
            + HandoverDecoder.readers.keys.sorted().map(String.init).joined(separator: ", v") + ")"
        case .truncated: "hand-over state truncated"
        case .recordTooLarge(let n): "hand-over record of \(n) bytes is over the limit"
        case .tooManyConnections(let n): "hand-over state lists \(n) connections, over the limit"
        case .malformed(let what): "hand-over state malformed: \(what)"
        case .checksumMismatch: "hand-over state checksum mismatch"
        case .trailingBytes: "bytes after the end of the hand-over state"
        }
    }
}

/// Bounds on what a state may hold; each is checked before the bytes it governs are buffered.
struct HandoverLimits: Sendable {
    var maxConnections = 1 << 16
    /// One record: a connection's unsent output and unread input are each bounded by the
    /// gateway's own limits (maxBufferedBytes, maxPayload), well under this.
    var maxRecordBytes = 64 << 20
    var maxStringBytes = 64 * 1024
    var maxScopes = 64
}

/// The `gateway` record: who wrote the state and how many connection records follow.
struct HandoverGatewayRecord: Equatable, Sendable {
    var fromPid: Int32
    var handedAtMs: Int64
    var nextConnId: UInt64
    var presenceVersion: Int64
    var healthVersion: Int64
    var connectionCount: Int
}

/// How one format version reads its records. A new version adds a reader (usually the
/// previous one's fields, then its own) and keeps the old ones: an upgraded binary is
/// started with the state its predecessor wrote.
protocol HandoverRecordReader: Sendable {
    static func gateway(_ fields: inout HandoverFieldReader, limits: HandoverLimits)
        throws(HandoverFormatError) -> HandoverGatewayRecord
    static func connection(_ fields: inout HandoverFieldReader, limits: HandoverLimits)
        throws(HandoverFormatError) -> HandoverConnection
}

/// Incremental reader of a hand-over state: bytes in (any split), a `HandoverState` or a
/// `HandoverFormatError` out; no I/O. It buffers at most one record (bounded by
/// `maxRecordBytes`), and a failure is sticky.
struct HandoverDecoder {
    static let readers: [UInt16: any HandoverRecordReader.Type] = [1: HandoverFormatV1.self]
    static let headerBytes = 8
    static let recordHeadBytes = 5

    private enum Stage {
        case header
        case recordHead
        case recordBody(kind: UInt8, length: Int)
        case done
        case failed(HandoverFormatError)
    }

    let limits: HandoverLimits
    private var stage = Stage.header
    private var unit: [UInt8] = []
    private var checksum = HandoverChecksum.seed
    private var reader: (any HandoverRecordReader.Type)?
    private var gateway: HandoverGatewayRecord?
    private var connections: [HandoverConnection] = []
    private var identities: Set<[UInt64]> = []
    private var ids: Set<String> = []
    /// The version in the header, once read (also when it is not supported).
    private(set) var version: UInt16?

    init(limits: HandoverLimits = HandoverLimits()) {
        self.limits = limits
    }

    mutating func feed(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { feed($0) }
    }

    mutating func feed(_ bytes: UnsafeRawBufferPointer) {
        var input = bytes[...]
        while true {
            let size: Int
            switch stage {
            case .header: size = Self.headerBytes
            case .recordHead: size = Self.recordHeadBytes
            case .recordBody(_, let length): size = length
            case .done:
                if !input.isEmpty { stage = .failed(.trailingBytes) }
                return
            case .failed:
                return
            }
            let take = min(size - unit.count, input.count)
            unit.append(contentsOf: input.prefix(take))
            input = input.dropFirst(take)
            guard unit.count == size else { return }
            do {
                try consumeUnit()
            } catch {
                stage = .failed(error)
                unit = []
                return
            }
            unit.removeAll(keepingCapacity: unit.capacity <= 64 * 1024)
        }
    }

    /// The state, once the `end` record was read and checked.
    func finish() throws(HandoverFormatError) -> HandoverState {
        switch stage {
        case .done:
            guard let gateway else { throw .truncated }
            return HandoverState(fromPid: gateway.fromPid, handedAtMs: gateway.handedAtMs, nextConnId: gateway.nextConnId,
                                 presenceVersion: gateway.presenceVersion, healthVersion: gateway.healthVersion,
                                 connections: connections)
        case .failed(let error):
            throw error
        default:
            throw .truncated
        }
    }

    private mutating func consumeUnit() throws(HandoverFormatError) {
        switch stage {
        case .header:
            guard unit[0..<4].elementsEqual(HandoverState.magic) else { throw .notHandoverState }
            let v = UInt16(unit[4]) << 8 | UInt16(unit[5])
            version = v
            guard let known = Self.readers[v] else { throw .unsupportedVersion(v) }
            guard unit[6] == 0 && unit[7] == 0 else { throw .malformed("reserved header bytes set") }
            reader = known
            HandoverChecksum.update(&checksum, unit)
            stage = .recordHead
        case .recordHead:
            let length = Int(unit[1]) << 24 | Int(unit[2]) << 16 | Int(unit[3]) << 8 | Int(unit[4])
            guard length <= limits.maxRecordBytes else { throw .recordTooLarge(length) }
            if unit[0] != HandoverRecordKind.end.rawValue { HandoverChecksum.update(&checksum, unit) }
            stage = .recordBody(kind: unit[0], length: length)
        case .recordBody(let kind, _):
            try consumeRecord(kind)
        case .done, .failed:
            break
        }
    }

    private mutating func consumeRecord(_ kind: UInt8) throws(HandoverFormatError) {
        guard let reader, let recordKind = HandoverRecordKind(rawValue: kind) else {
            throw .malformed("unknown record kind \(kind)")
        }
        var fields = HandoverFieldReader(unit, limits: limits)
        switch recordKind {
        case .end:
            let expected = try fields.u64()
            try fields.requireEnd()
            guard let gateway else { throw .malformed("no gateway record") }
            guard connections.count == gateway.connectionCount else {
                throw .malformed("\(connections.count) connection records, the gateway record says \(gateway.connectionCount)")
            }
            guard expected == checksum else { throw .checksumMismatch }
            stage = .done
            return
        case .gateway:
            guard gateway == nil else { throw .malformed("a second gateway record") }
            let record = try reader.gateway(&fields, limits: limits)
            guard record.connectionCount <= limits.maxConnections else { throw .tooManyConnections(record.connectionCount) }
            gateway = record
            connections.reserveCapacity(record.connectionCount)
        case .connection:
            guard let gateway else { throw .malformed("a connection record before the gateway record") }
            guard connections.count < gateway.connectionCount else { throw .malformed("more connection records than announced") }
            let connection = try reader.connection(&fields, limits: limits)
            guard identities.insert([connection.device, connection.inode]).inserted else {
                throw .malformed("two connections with one socket")
            }
            guard ids.insert(connection.id).inserted else { throw .malformed("two connections named \(connection.id)") }
            connections.append(connection)
        }
        HandoverChecksum.update(&checksum, unit)
        stage = .recordHead
    }
}

/// A cursor over one record's body: big-endian integers, length-prefixed strings (valid UTF-8,
/// bounded) and byte blobs. Reading past the end is `malformed`, never a crash.
struct HandoverFieldReader {
    private let bytes: [UInt8]
    private var index = 0
    private let limits: HandoverLimits

    init(_ bytes: [UInt8], limits: HandoverLimits) {
        self.bytes = bytes
        self.limits = limits
    }

    private mutating func take(_ count: Int, _ what: String) throws(HandoverFormatError) -> ArraySlice<UInt8> {
        guard count >= 0, bytes.count - index >= count else { throw .malformed("\(what) runs past its record") }
        defer { index += count }
        return bytes[index..<(index + count)]
    }

    mutating func u8() throws(HandoverFormatError) -> UInt8 {
        try take(1, "a byte").first!
    }

    mutating func u32() throws(HandoverFormatError) -> UInt32 {
        try take(4, "a 32-bit field").reduce(0) { $0 << 8 | UInt32($1) }
    }

    mutating func u64() throws(HandoverFormatError) -> UInt64 {
        try take(8, "a 64-bit field").reduce(0) { $0 << 8 | UInt64($1) }
    }

    mutating func bytes(_ what: String) throws(HandoverFormatError) -> [UInt8] {
        Array(try take(Int(try u32()), what))
    }

    mutating func string(_ what: String) throws(HandoverFormatError) -> String {
        let length = Int(try u32())
        guard length <= limits.maxStringBytes else { throw .malformed("\(what) of \(length) bytes is over the limit") }
        guard let s = String(validating: try take(length, what), as: UTF8.self) else {
            throw .malformed("\(what) is not valid UTF-8")
        }
        return s
    }

    mutating func optional(_ what: String) throws(HandoverFormatError) -> String? {
        switch try u8() {
        case 0: return nil
        case 1: return try string(what)
        case let flag: throw .malformed("\(what): presence byte \(flag)")
        }
    }

    /// Records of a known version have no room for extras: leftovers mean a misread.
    func requireEnd() throws(HandoverFormatError) {
        guard index == bytes.count else { throw .malformed("\(bytes.count - index) unread bytes at the end of a record") }
    }
}
