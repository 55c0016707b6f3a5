import GatewayProtocol
import NetIO

/// A connection's side of a restart hand-over: what leaves with its socket, and how the
/// next instance carries on from it (docs/handover.md).
extension Connection {
    /// Takes the connection off the loop without closing its socket, and returns the socket
    /// with everything the next instance needs. Nil for one already closing: it finishes here.
    func detachForHandover() -> (fd: Int32, record: HandoverConnection)? {
        let recordPhase: HandoverConnection.Phase
        switch phase {
        case .http: recordPhase = .http
        case .awaitingConnect: recordPhase = .awaitingConnect
        case .ready: recordPhase = .ready
        case .closing: return nil
        }
        guard let identity = FileIdentity(fd: channel.fd) else { return nil }
        if let handshakeTimer { server.loop.cancel(handshakeTimer) }
        handshakeTimer = nil
        let input = phase == .http ? httpParser.pendingInput : parser.pendingInput
        let output = channel.detach()
        phase = .closing
        let record = HandoverConnection(
            device: identity.device, inode: identity.inode, id: id, phase: recordPhase, seq: seq,
            connectedWallMs: connectedWallMs,
            client: client.map {
                .init(id: $0.id, role: $0.role, version: $0.version, platform: $0.platform, mode: $0.mode,
                      displayName: $0.displayName, instanceId: $0.instanceId)
            },
            scopes: scopes, presenceText: presenceText, input: input, output: output)
        return (channel.fd, record)
    }

    /// The connection `record` describes, carried on over its socket `fd`: no close, no new
    /// handshake; the unsent output is queued first. The unread input is not handled here: the
    /// server registers the connection, then hands it to `replay(_:)`.
    static func restored(_ record: HandoverConnection, fd: Int32, server: GatewayServer) throws(SystemCallError) -> Connection {
        let channel = try StreamChannel(loop: server.loop, fd: fd, maxBufferedBytes: server.settings.maxBufferedBytes)
        let connection = Connection(id: record.id, channel: channel, server: server)
        connection.connectedWallMs = record.connectedWallMs
        connection.seq = record.seq
        connection.scopes = record.scopes
        connection.presenceText = record.presenceText
        switch record.phase {
        case .http:
            break
        case .awaitingConnect:
            connection.phase = .awaitingConnect
            channel.maxBufferedBytes = min(server.settings.maxBufferedBytes, WireProtocol.preHandshakeMaxOutput)
        case .ready:
            connection.client = record.client.map {
                ClientInfo(id: $0.id, version: $0.version, platform: $0.platform, mode: $0.mode,
                           displayName: $0.displayName, instanceId: $0.instanceId, role: $0.role)
            }
            connection.enterReady()
        }
        channel.requeue(record.output)
        return connection
    }

    /// Handles bytes the previous instance had read and not yet handled, as if just read (a
    /// frame cut by the restart completes with the next bytes from the client).
    func replay(_ input: [UInt8]) {
        input.withUnsafeBytes { received($0) }
    }
}
