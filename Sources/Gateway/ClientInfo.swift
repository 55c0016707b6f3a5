import GatewayProtocol

extension Connection {
    /// Who the client said it is in `connect` (shown in presence and logs).
    struct ClientInfo {
        let id: String
        let version: String?
        let platform: String?
        let mode: String?
        let displayName: String?
        let instanceId: String?
        let role: String

        /// Everything here is repeated in every presence list: each string is bounded
        /// (`WireProtocol.maxClientStringBytes`) and so is the number of scopes.
        func checkBounds(scopes: [String]) throws(RPCError) {
            let limit = WireProtocol.maxClientStringBytes
            let fields: [(String, String?)] = [
                ("client.id", id), ("client.version", version), ("client.platform", platform), ("client.mode", mode),
                ("client.displayName", displayName), ("client.instanceId", instanceId), ("role", role),
            ]
            for (name, value) in fields { if let value { try checkLength(value, field: name, maxBytes: limit) } }
            guard scopes.count <= WireProtocol.maxScopes else {
                throw RPCError(.invalidRequest, "scopes lists \(scopes.count) entries; the limit is \(WireProtocol.maxScopes)",
                               details: ["field": "scopes", "maxItems": .int(Int64(WireProtocol.maxScopes))])
            }
            for scope in scopes { try checkLength(scope, field: "scopes", maxBytes: 128) }
        }
    }
}
