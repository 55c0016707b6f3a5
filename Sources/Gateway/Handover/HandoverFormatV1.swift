/// Format v1 (the first): the records `HandoverState.encoded()` writes today. Kept as it is
/// once a v2 exists, so that a binary upgraded past it still reads what v1 wrote.
enum HandoverFormatV1: HandoverRecordReader {
    static func gateway(_ fields: inout HandoverFieldReader, limits: HandoverLimits)
        throws(HandoverFormatError) -> HandoverGatewayRecord
    {
        let record = HandoverGatewayRecord(
            fromPid: Int32(bitPattern: try fields.u32()), handedAtMs: Int64(bitPattern: try fields.u64()),
            nextConnId: try fields.u64(), presenceVersion: Int64(bitPattern: try fields.u64()),
            healthVersion: Int64(bitPattern: try fields.u64()), connectionCount: Int(try fields.u32()))
        try fields.requireEnd()
        return record
    }

    static func connection(_ fields: inout HandoverFieldReader, limits: HandoverLimits)
        throws(HandoverFormatError) -> HandoverConnection
    {
        let device = try fields.u64()
        let inode = try fields.u64()
        let id = try fields.string("connection id")
        guard !id.isEmpty else { throw .malformed("empty connection id") }
        let rawPhase = try fields.u8()
        guard let phase = HandoverConnection.Phase(rawValue: rawPhase) else { throw .malformed("unknown phase \(rawPhase)") }
        let seq = Int64(bitPattern: try fields.u64())
        guard seq >= 0 else { throw .malformed("negative seq") }
        let connectedWallMs = Int64(bitPattern: try fields.u64())
        var client: HandoverConnection.Client?
        switch try fields.u8() {
        case 0:
            break
        case 1:
            client = HandoverConnection.Client(
                id: try fields.string("client.id"), role: try fields.string("role"),
                version: try fields.optional("client.version"), platform: try fields.optional("client.platform"),
                mode: try fields.optional("client.mode"), displayName: try fields.optional("client.displayName"),
                instanceId: try fields.optional("client.instanceId"))
        case let flag:
            throw .malformed("client presence byte \(flag)")
        }
        guard (phase == .ready) == (client != nil) else { throw .malformed("a client identity exactly when past hello-ok") }
        let scopeCount = Int(try fields.u32())
        guard scopeCount <= limits.maxScopes else { throw .malformed("\(scopeCount) scopes, over the limit") }
        var scopes: [String] = []
        for _ in 0..<scopeCount { scopes.append(try fields.string("scope")) }
        let presenceText = try fields.optional("presence text")
        let input = try fields.bytes("unread input")
        let output = try fields.bytes("unsent output")
        try fields.requireEnd()
        return HandoverConnection(device: device, inode: inode, id: id, phase: phase, seq: seq,
                                  connectedWallMs: connectedWallMs, client: client, scopes: scopes,
                                  presenceText: presenceText, input: input, output: output)
    }
}
