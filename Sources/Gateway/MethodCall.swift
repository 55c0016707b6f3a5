import GatewayProtocol
import JSONCore
import NetIO

/// One request being answered. Handlers may answer later (after I/O) and, for
/// `agent`, twice with the same id; if the caller has gone, answers are dropped
/// (a closed connection ignores them).
final class MethodCall {
    let id: String
    let method: String
    let params: JSONValue
    /// Strong, not weak: a weak reference gives the connection a side table, which sends
    /// every later retain/release of it down the runtime's slow path (~350 instructions per
    /// request). A call outliving its connection's close (an agent run) keeps only the
    /// object alive; `released()` has already dropped its buffers. Nothing the connection
    /// holds refers back to a call, so there is no cycle.
    private let connection: Connection
    let connId: String
    /// Whose metrics count the answer (the server outlives every call).
    private let server: GatewayServer
    /// `GatewayMetrics.methodLabels` index; the first answer is counted with its latency.
    private let metricIndex: Int
    private let startNs: Int64
    private var counted = false

    init(id: String, method: String, params: JSONValue, connection: Connection, server: GatewayServer,
         metricIndex: Int) {
        self.id = id
        self.method = method
        self.params = params
        self.connection = connection
        self.connId = connection.id
        self.server = server
        self.metricIndex = metricIndex
        startNs = EventLoop.nowNs()
    }

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
        guard !counted else { return }
        counted = true
        server.metrics.observe(method: metricIndex, outcome: GatewayMetrics.outcomeIndex(errorCode: errorCode),
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
