import GatewayProtocol
import JSONCore
import WebSocketCodec

/// What a connection sends: response envelopes written around their payload, events
/// with this connection's `seq`, and broadcast events encoded once for everyone.
extension Connection {
    private static let seqKey = Array(#","seq":"#.utf8)

    func sendResponse(id: String, payload: JSONValue) {
        sendResponse(id: id) { $0.value(payload) }
    }

    /// The success envelope with its payload written straight into the frame (the hot path:
    /// no tree for the envelope, none for a payload its handler writes typed, and no array
    /// in between: an answer that fits the writer's stack buffer is copied once, into the
    /// socket's queue). `writePayload` writes exactly one JSON value.
    func sendResponse(id: String, writingPayload writePayload: (inout JSONByteWriter) -> Void) {
        guard isOpen else { return }
        var refusedSize: Int?
        server.encode({ w in
            w.beginObject()
            w.literalMembers(#""type":"res","id":"#); w.string(id)
            w.literalMembers(#""ok":true,"payload":"#); writePayload(&w)
            w.endObject()
        }, then: { json in
            if channel.fits(json.count + Self.frameHeaderBytes) {
                writeFrame(.text, json)
            } else {
                refusedSize = json.count
            }
        })
        if let refusedSize { sendResponse(id: id, error: responseTooLarge(refusedSize)) }
    }

    /// An answer that cannot be queued is refused on its own; the connection stays up.
    private func responseTooLarge(_ size: Int) -> RPCError {
        let limit = channel.maxBufferedBytes
        let unsent = channel.bufferedBytes
        let fitsAlone = size + Self.frameHeaderBytes <= limit
        return RPCError(
            .unavailable,
            "the response is \(size) bytes and this connection's output bound is \(limit) bytes"
                + (fitsAlone ? " (\(unsent) bytes still unsent); retry once the client has read them"
                             : "; ask for less (a smaller limit) or raise gateway.maxBufferedBytes"),
            details: ["code": "RESPONSE_TOO_LARGE", "responseBytes": .int(Int64(size)),
                      "maxBufferedBytes": .int(Int64(limit))],
            retryable: fitsAlone)
    }

    func sendResponse(id: String, error: RPCError) {
        sendJSON(Frame.response(id: id, ok: false, payload: nil, error: error).json)
    }

    func sendEvent(_ name: String, payload: JSONValue, stateVersion: StateVersion? = nil, withSeq: Bool = true) {
        sendEvent(name, stateVersion: stateVersion, withSeq: withSeq) { $0.value(payload) }
    }

    /// An event for this connection alone, its payload written typed (`connect.challenge`
    /// starts every handshake).
    func sendEvent(_ name: String, stateVersion: StateVersion? = nil, withSeq: Bool = true,
                   writingPayload writePayload: (inout JSONByteWriter) -> Void) {
        guard isOpen else { return }
        server.metrics.eventSent(name)
        if withSeq { seq += 1 }
        server.encode({ w in
            Self.writeEventStart(&w, name: name, writingPayload: writePayload)
            if withSeq { w.key("seq"); w.int(seq) }
            if let stateVersion { w.key("stateVersion"); stateVersion.write(to: &w) }
            w.endObject()
        }, then: { writeFrame(.text, $0) })
    }

    /// `{"type":"event","event":NAME,"payload":…`: how every event frame starts (`Frame.event`'s
    /// member order); the caller adds `seq`/`stateVersion` and closes it.
    static func writeEventStart(_ w: inout JSONByteWriter, name: String,
                                writingPayload writePayload: (inout JSONByteWriter) -> Void) {
        w.beginObject()
        w.key("type"); w.string("event")
        w.key("event"); w.string(name)
        w.key("payload"); writePayload(&w)
    }

    /// Sends a broadcast event whose JSON was encoded once for everyone: `prefix` is the
    /// frame without its closing brace, shared as it is (a large one goes to the kernel
    /// uncopied); this connection's seq follows it, written into `tail`, the caller's
    /// scratch for the whole broadcast. Returns whether it was sent (false when closed or
    /// skipped for its backlog).
    @discardableResult
    func sendSharedEvent(prefix: [UInt8], tail: inout [UInt8], unlessBacklogAbove backlogLimit: Int) -> Bool {
        guard phase == .ready else { return false }
        guard channel.bufferedBytes <= backlogLimit else {
            server.metrics.stateEventsSkipped &+= 1
            return false
        }
        seq += 1
        tail.removeAll(keepingCapacity: true)
        tail.append(contentsOf: Self.seqKey)
        JSONByteWriter.appending(to: &tail) { $0.int(seq) }
        tail.append(UInt8(ascii: "}"))
        writeFrame(.text, prefix, tail: tail)
        return true
    }

    private func sendJSON(_ value: JSONValue) {
        guard isOpen else { return }
        server.encode({ $0.value(value) }, then: { writeFrame(.text, $0) })
    }
}
