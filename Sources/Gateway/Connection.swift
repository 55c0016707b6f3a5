import CLinux
import Glibc
import GatewayProtocol
import JSONCore
import NetIO
import WebSocketCodec

/// One client socket: HTTP request head, then either a plain HTTP answer
/// (`/healthz`, 404, 400/426) or a WebSocket that must open with `connect`.
final class Connection {
    enum Phase {
        case http
        case awaitingConnect
        case ready
        case closing
    }

    let id: String
    let channel: StreamChannel
    let peer: SocketAddress?
    /// The server lives as long as the process serves (it outlives every connection), so the
    /// reference skips the checked `unowned` retain on every use (a dozen per request).
    unowned(unsafe) let server: GatewayServer
    /// `phase` and `parser` are read for every frame on the loop's thread, and no access to
    /// them stays open across a call that comes back here: no runtime exclusivity check.
    /// Phase, parsers and timer are set here and, on a restart, by the hand-over
    /// (Handover/ConnectionHandover.swift), which carries them to the next instance.
    @exclusivity(unchecked) var phase: Phase = .http
    var httpParser = HTTPHeadParser(maxBytes: 16 * 1024)
    @exclusivity(unchecked) var parser = WebSocketParser(role: .server, maxMessageSize: WireProtocol.preHandshakeMaxPayload)
    var handshakeTimer: TimerID?
    /// The last event `seq` this connection was sent (`ConnectionOutput.swift` advances it).
    var seq: Int64 = 0
    /// When the client connected (kept across a hand-over, for presence).
    var connectedWallMs = EventLoop.wallClockMs()
    /// Set by a successful `connect`.
    var client: ClientInfo?
    var presenceText: String? {
        didSet {
            presenceJSON = nil
            presenceEstimate = nil
        }
    }
    /// This client's presence entry, encoded once (`Presence.swift`): nothing in it changes
    /// after hello-ok but the text. Only clients in the capped lists keep theirs.
    var presenceJSON: [UInt8]?
    private var presenceEstimate: Int?
    /// Set once this client's departure was counted (closing and closed both report it).
    var leftPresence = false
    var scopes: [String] = [] {
        didSet {  // what they admit, decided once per connection instead of per request
            mayRead = Admission.admits(scopes, "operator.read")
            mayWrite = Admission.admits(scopes, "operator.write")
        }
    }
    private(set) var mayRead = false
    private(set) var mayWrite = false

    init(id: String, channel: StreamChannel, server: GatewayServer) {
        self.id = id
        self.channel = channel
        self.server = server
        self.peer = Sockets.peerAddress(channel.fd)
        channel.onRead = { [unowned self] bytes in self.received(bytes) }
        // Found by id when it fires, not held weakly: a weak reference gives the object a side
        // table, and then every retain and release of it takes the runtime's slow path.
        handshakeTimer = server.loop.schedule(afterMs: Int64(server.settings.handshakeTimeoutMs)) { [unowned server, id] in
            server.connections[id]?.handshakeTimedOut()
        }
    }

    private func handshakeTimedOut() {
        guard phase == .http || phase == .awaitingConnect else { return }
        server.log.info("handshake timeout", fields: logFields)
        if phase == .http { channel.close() } else { close(.policyViolation, "handshake timeout") }
    }

    var logFields: [(String, String)] {
        var f = [("OPENCLAW_CONN_ID", id)]
        if let peer { f.append(("OPENCLAW_PEER", peer.description)) }
        if let client { f.append(("OPENCLAW_CLIENT", client.id)) }
        return f
    }

    // MARK: input

    /// Bytes read from the socket (or carried over by a hand-over), handled by phase.
    func received(_ bytes: UnsafeRawBufferPointer) {
        switch phase {
        case .http:
            receivedHTTP(bytes)
        case .awaitingConnect, .ready:
            parser.feed(bytes)
            drainMessages()
        case .closing:
            break
        }
    }

    private func receivedHTTP(_ bytes: UnsafeRawBufferPointer) {
        let result: (head: HTTPHead, leftover: [UInt8])?
        do {
            result = try httpParser.feed(bytes)
        } catch {
            respondHTTP(status: error.status, reason: error.reason)
            return
        }
        guard let (head, leftover) = result else { return }
        switch ServerHandshake.evaluate(head) {
        case .notUpgrade:
            answerPlainHTTP(head)
        case .reject(let status, let reason, let response):
            server.log.info("upgrade refused: \(status) \(reason)", fields: logFields)
            channel.write(response)
            channel.closeAfterFlush()
            phase = .closing
        case .accept(let response):
            if let refusal = server.originPolicy.refusal(host: head.header("Host"), origin: head.header("Origin"),
                                                         local: Sockets.localAddress(channel.fd)) {
                server.log.warning("upgrade refused: 403 \(refusal)", fields: logFields)
                respondHTTP(status: 403, reason: "Forbidden", body: refusal)
                return
            }
            channel.write(response)
            phase = .awaitingConnect
            // Until hello-ok a peer has proved nothing: it may queue little (pongs, refusals).
            channel.maxBufferedBytes = min(server.settings.maxBufferedBytes, WireProtocol.preHandshakeMaxOutput)
            sendEvent("connect.challenge", withSeq: false) { w in
                w.beginObject()
                w.key("nonce"); w.string(randomHex(16))
                w.key("ts"); w.int(EventLoop.wallClockMs())
                w.endObject()
            }
            if !leftover.isEmpty {
                parser.feed(leftover)
                drainMessages()
            }
        }
    }

    private func answerPlainHTTP(_ head: HTTPHead) {
        channel.write(server.answerPlainHTTP(head, peer: peer))
        phase = .closing
        channel.closeAfterFlush()
    }

    private func respondHTTP(status: Int, reason: String, body: String? = nil) {
        channel.write(HTTPResponse.make(status: status, reason: reason, headers: [("Content-Type", "text/plain")],
                                        body: Array(((body ?? reason) + "\n").utf8)))
        phase = .closing
        channel.closeAfterFlush()
    }

    private func drainMessages() {
        while phase == .awaitingConnect || phase == .ready {
            let input: WebSocketInput?
            do {
                input = try parser.nextInput()
            } catch {
                server.log.info("protocol error: \(error.reason)", fields: logFields + [("OPENCLAW_CLOSE_CODE", String(error.closeCode.rawValue))])
                close(error.closeCode, error.reason)
                return
            }
            // Switched over as it came (consumed, not unwrapped into a copy first): the text
            // slice is not retained again for its case.
            switch consume input {
            case nil:
                return
            case .text(let bytes)?:  // borrowed from the parser's buffer; gone by the next nextInput()
                if phase == .awaitingConnect { handleFirstFrame(bytes) } else { handleFrame(bytes) }
            case .binary?:
                close(.unsupportedData, "binary frames are not supported")
            case .ping(let payload)?:
                writeFrame(.pong, payload)
            case .pong?:
                break
            case .close(let code, _)?:
                // Echo the close and let the peer close TCP; our side closes once flushed.
                let echo = code.flatMap { WebSocketCloseCode(rawValue: $0) }.flatMap { $0.isSendable ? $0 : nil }
                writeFrame(.close, echo.map { FrameEncoder.closePayload(code: $0, reason: "") } ?? [])
                phase = .closing
                server.connectionClosing(self)
                channel.closeAfterFlush()
            }
        }
    }

    // MARK: handshake

    private func handleFirstFrame(_ bytes: ArraySlice<UInt8>) {
        guard let (id, method, params) = readRequest(bytes, refusal: "first frame must be a connect request") else {
            return
        }
        guard method == "connect" else {
            sendResponse(id: id, error: RPCError(.invalidRequest, "first request must be connect"))
            close(.policyViolation, "first frame must be a connect request")
            return
        }
        server.authenticate(self, requestId: id, params: params ?? .null)
    }

    /// Parses the first message into a request. Anything else is refused: an error response
    /// when the id can be read, then close 1008 with `refusal`.
    private func readRequest(_ bytes: ArraySlice<UInt8>, refusal: String) -> (String, String, JSONValue?)? {
        let json: JSONValue
        do {
            json = try JSONValue.parse(bytes)
        } catch {
            server.log.info("malformed JSON: \(error)", fields: logFields)
            close(.policyViolation, refusal)
            return nil
        }
        do {
            let frame = try Frame(json: json)
            guard case .request(let id, let method, let params) = frame else {
                close(.policyViolation, refusal)
                return nil
            }
            return (id, method, params)
        } catch {
            if let id = json["id"]?.stringValue { sendResponse(id: id, error: error) }
            close(.policyViolation, refusal)
            return nil
        }
    }

    /// Estimated JSON size of this client's presence entry (strings plus fixed keys),
    /// kept once the client is known: every presence list sums it over its clients.
    var presenceBytes: Int {
        if let presenceEstimate { return presenceEstimate }
        guard let c = client else { return 0 }
        var n = 256 + c.id.utf8.count + c.role.utf8.count + (presenceText?.utf8.count ?? 0)
        for s in [c.version, c.platform, c.mode, c.displayName, c.instanceId] { n += s?.utf8.count ?? 0 }
        for s in scopes { n += s.utf8.count + 3 }
        presenceEstimate = n
        return n
    }

    /// Called once the socket is closed: what the peer sent (parser buffers, presence
    /// text) goes now, even while presence bookkeeping still holds this object.
    func released() {
        phase = .closing
        httpParser = HTTPHeadParser(maxBytes: 0)
        parser = WebSocketParser(role: .server, maxMessageSize: 0)
        presenceText = nil
    }

    /// Called by the server once `connect` is accepted; `writeHello` writes hello-ok.
    func completeHandshake(requestId: String, writingHello writeHello: (inout JSONByteWriter) -> Void) {
        enterReady()
        sendResponse(id: requestId, writingPayload: writeHello)
    }

    /// Past hello-ok: the handshake's limits give way to the configured ones.
    func enterReady() {
        if let handshakeTimer { server.loop.cancel(handshakeTimer) }
        handshakeTimer = nil
        httpParser = HTTPHeadParser(maxBytes: 0)  // its buffer is no longer needed
        parser.maxMessageSize = server.settings.maxPayload
        phase = .ready
        channel.maxBufferedBytes = server.settings.maxBufferedBytes
    }

    // MARK: frames after hello-ok

    /// Requests in flight that can be cancelled, by request id (an `agent` run until its final answer).
    private var cancellable: [String: () -> Void] = [:]
    /// Rejected frames logged so far; a client stuck sending garbage must not flood the journal.
    private var rejectedLogged = 0
    private static let rejectedLogLimit = 5

    /// After hello-ok only WebSocket-level violations close the socket (as upstream): a frame
    /// that is not valid JSON or not a valid `req`/`cancel` is answered with an error when its
    /// id can be read, logged, and the connection stays.
    private func handleFrame(_ bytes: ArraySlice<UInt8>) {
        if let request = RequestEnvelope(reading: bytes) {  // nearly every frame: no tree for it
            let (id, method, params) = request.parts()
            server.dispatch(id: id, method: method, params: params ?? .object(JSONObject()), connection: self)
            return
        }
        let json: JSONValue
        do {
            json = try JSONValue.parse(bytes)
        } catch {
            rejectFrame(RPCError(.invalidRequest, "malformed JSON: \(error)"), id: nil)
            return
        }
        let frame: Frame
        do {
            frame = try Frame(json: json)
        } catch {
            rejectFrame(error, id: json["id"]?.stringValue)
            return
        }
        switch frame {
        case .request(let id, let method, let params):
            server.dispatch(id: id, method: method, params: params ?? .object(JSONObject()), connection: self)
        case .cancel(let id):
            cancel(requestId: id)
        case .response(let id, _, _, _):
            rejectFrame(RPCError(.invalidRequest, "clients send req and cancel frames only"), id: id)
        case .event:
            rejectFrame(RPCError(.invalidRequest, "clients send req and cancel frames only"), id: nil)
        }
    }

    private func rejectFrame(_ error: RPCError, id: String?) {
        server.metrics.framesRejected &+= 1
        if rejectedLogged < Self.rejectedLogLimit {
            rejectedLogged += 1
            let more = rejectedLogged == Self.rejectedLogLimit ? " (further rejected frames of this connection are not logged)" : ""
            server.log.info("rejected frame: \(error.message)\(more)", fields: logFields)
        }
        if let id, !id.isEmpty { sendResponse(id: id, error: error) }
    }

    /// `cancel`: stops the named request if it can still be stopped; otherwise nothing happens.
    private func cancel(requestId: String) {
        guard let handler = cancellable.removeValue(forKey: requestId) else {
            server.metrics.cancelsIgnored &+= 1
            server.log.debug("cancel for \(requestId): nothing to cancel", fields: logFields)
            return
        }
        server.metrics.cancelsApplied &+= 1
        server.log.info("cancel for \(requestId)", fields: logFields)
        handler()
    }

    /// Registers (or, with nil, forgets) what a `cancel` frame for `requestId` does.
    func setCancelHandler(_ handler: (() -> Void)?, for requestId: String) {
        if let handler {
            cancellable[requestId] = handler
        } else if !cancellable.isEmpty {
            cancellable[requestId] = nil
        }
    }

    // MARK: frames

    /// Not yet past hello-ok and not closing.
    var isPending: Bool { phase == .http || phase == .awaitingConnect }

    var isOpen: Bool { phase == .awaitingConnect || phase == .ready }

    /// Largest unmasked (server) frame header.
    static let frameHeaderBytes = 10

    /// Frames of at least this many payload bytes go to the kernel straight from the
    /// caller's buffers when nothing is queued (`StreamChannel.write(head:body:tail:)`),
    /// saving a copy of a large hello-ok or broadcast event; smaller ones are queued, so a
    /// turn's frames for one peer leave in one syscall.
    static let directWriteBytes = 4096

    /// Queues one frame whose payload is `payload` then `tail`; a peer whose queue is full
    /// is a slow consumer and is dropped.
    func writeFrame(_ opcode: Opcode, _ payload: [UInt8], tail: [UInt8] = []) {
        writeFrame(opcode, payload.span, tail: tail.span)
    }

    /// `writeFrame` for bytes borrowed where they were written (an answer still in its writer):
    /// header, payload and tail go to the channel without being joined into a frame first.
    func writeFrame(_ opcode: Opcode, _ payload: Span<UInt8>, tail: Span<UInt8> = Span()) {
        let count = payload.count + tail.count
        let ok = FrameHeader(opcode, payloadCount: count).withSpan { head in
            count >= Self.directWriteBytes ? channel.write(head: head, body: payload, tail: tail)
                                           : channel.queue(head: head, body: payload, tail: tail)
        }
        if !ok && phase != .closing {
            server.metrics.slowConsumerDisconnects &+= 1
            server.log.warning("slow consumer: closing (\(channel.bufferedBytes) bytes unsent)", fields: logFields)
            phase = .closing
            server.connectionClosing(self)
            // The queue is full: a close frame cannot be queued behind it; drop the peer.
            channel.close()
        }
    }

    /// Sends a close frame with `code` and closes once it is flushed (bounded by the server's drain).
    func close(_ code: WebSocketCloseCode, _ reason: String) {
        guard phase != .closing else { return }
        if phase == .http {
            phase = .closing
            channel.close()
            return
        }
        writeFrame(.close, FrameEncoder.closePayload(code: code, reason: reason))
        phase = .closing
        server.connectionClosing(self)
        channel.pauseReading()
        channel.closeAfterFlush()
        server.loop.schedule(afterMs: 2000) { [channel] in channel.close() }
    }
}

/// Hex of `count` random bytes from the kernel.
func randomHex(_ count: Int) -> String {
    var bytes = [UInt8](repeating: 0, count: count)
    _ = bytes.withUnsafeMutableBytes { getrandom($0.baseAddress, count, 0) }
    let digits = Array("0123456789abcdef".utf8)
    var out = [UInt8]()
    out.reserveCapacity(count * 2)
    for b in bytes {
        out.append(digits[Int(b >> 4)])
        out.append(digits[Int(b & 0xF)])
    }
    return String(decoding: out, as: UTF8.self)
}
