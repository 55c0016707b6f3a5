import GatewayProtocol
import JSONCore
import NetIO

/// One request being answered. A value, not an object: nearly every handler answers
/// before it returns (`health`, `status`), and a class instance allocated and freed per
/// request cost about 400 instructions of a `health` request. A handler that answers
/// later (after I/O) keeps a copy; `agent` answers twice with the same id (accepted,
/// then final) and passes on `followUp` for the second. If the caller has gone,
/// answers are dropped (a closed connection ignores them).
struct MethodCall {
    let id: String
    let method: String
    let params: JSONValue
    /// Strong, not weak: a weak reference gives the connection a side table, which sends
    /// every later retain/release of it down the runtime's slow path (~350 instructions per
    /// request). A copy outliving its connection's close (an agent run) keeps only the
    /// object alive; `released()` has already dropped its buffers. Nothing the connection
    /// holds refers back to a call, so there is no cycle.
    private let connection: Connection
    /// `GatewayMetrics.methodLabels` index the answer is counted under; nil for a follow-up
    /// answer (only the first answer is counted, with its latency).
    private let metricIndex: Int?
    /// When dispatch began (CLOCK_MONOTONIC): the counted answer's latency starts here.
    let startNs: Int64

    init(id: String, method: String, params: JSONValue, connection: Connection, metricIndex: Int?,
         startNs: Int64 = EventLoop.nowNs()) {
        self.id = id
        self.method = method
        self.params = params
        self.connection = connection
        self.metricIndex = metricIndex
        self.startNs = startNs
    }

    /// This call for answers after its first, counted one (`agent`'s final answer after
    /// `accepted`): they go to the same client under the same id and are not counted again.
    var followUp: MethodCall {
        MethodCall(id: id, method: method, params: params, connection: connection, metricIndex: nil, startNs: startNs)
    }

    var connId: String { connection.id }
    var isConnectionOpen: Bool { connection.isOpen }
    var scopes: [String] { connection.scopes }
    var clientId: String? { connection.client?.id }

    func respond(_ payload: JSONValue) {
        count(errorCode: nil)
        connection.sendResponse(id: id, payload: payload)
    }

    /// `respond` for a payload written typed (one JSON value, whole), without a tree.
    func respond(writing writePayload: (inout JSONByteWriter) -> Void) {
        count(errorCode: nil)
        connection.sendResponse(id: id, writingPayload: writePayload)
    }

    func fail(_ error: RPCError) {
        count(errorCode: error.code)
        connection.sendResponse(id: id, error: error)
    }

    private func count(errorCode: String?) {
        guard let metricIndex else { return }
        connection.server.metrics.observe(method: metricIndex, outcome: GatewayMetrics.outcomeIndex(errorCode: errorCode),
                                          elapsedNs: EventLoop.nowNs() - startNs)
    }

    /// What a `cancel` frame naming this request does while it runs; nil once it cannot be
    /// cancelled any more (its final answer is out). Without one, `cancel` is ignored.
    func onCancel(_ handler: (() -> Void)?) {
        connection.setCancelHandler(handler, for: id)
    }

    func sendEvent(_ name: String, payload: JSONValue) {
        connection.sendEvent(name, payload: payload)
    }

    /// The value of a required string parameter, or an INVALID_REQUEST naming it.
    /// `maxBytes` bounds strings the gateway keeps or repeats to other clients.
    func requiredString(_ name: String, maxBytes: Int = .max) throws(RPCError) -> String {
        guard let v = params[name] else { throw RPCError(.invalidRequest, "missing required param: \(name)") }
        guard let s = v.stringValue, !s.isEmpty else {
            throw RPCError(.invalidRequest, "param \(name) must be a non-empty string")
        }
        try checkLength(s, field: name, maxBytes: maxBytes)
        return s
    }
}

/// INVALID_REQUEST when `value` is longer than `maxBytes` UTF-8 bytes, naming the field and the limit.
func checkLength(_ value: String, field: String, maxBytes: Int) throws(RPCError) {
    let n = value.utf8.count
    guard n > maxBytes else { return }
    throw RPCError(.invalidRequest, "\(field) is \(n) bytes; the limit is \(maxBytes)",
                   details: ["field": .string(field), "maxBytes": .int(Int64(maxBytes))])
}
