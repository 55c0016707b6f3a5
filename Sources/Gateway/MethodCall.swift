import GatewayProtocol
import JSONCore

/// One request being answered. Handlers may answer later (after I/O) and, for
/// `agent`, twice with the same id; if the caller has gone, answers are dropped.
final class MethodCall {
    let id: String
    let method: String
    let params: JSONValue
    private weak var connection: Connection?
    let connId: String

    init(id: String, method: String, params: JSONValue, connection: Connection) {
        self.id = id
        self.method = method
        self.params = params
        self.connection = connection
        self.connId = connection.id
    }

    var isConnectionOpen: Bool { connection?.isOpen ?? false }
    var scopes: [String] { connection?.scopes ?? [] }
    var clientId: String? { connection?.client?.id }

    func respond(_ payload: JSONValue) {
        connection?.sendResponse(id: id, payload: payload)
    }

    func fail(_ error: RPCError) {
        connection?.sendResponse(id: id, error: error)
    }

    func sendEvent(_ name: String, payload: JSONValue) {
        connection?.sendEvent(name, payload: payload)
    }

    /// The value of a required string parameter, or an INVALID_REQUEST naming it.
    func requiredString(_ name: String) throws(RPCError) -> String {
        guard let v = params[name] else { throw RPCError(.invalidRequest, "missing required param: \(name)") }
        guard let s = v.stringValue, !s.isEmpty else {
            throw RPCError(.invalidRequest, "param \(name) must be a non-empty string")
        }
        return s
    }
}
