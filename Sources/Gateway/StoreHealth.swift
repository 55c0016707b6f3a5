import JSONCore

/// A durable store of the gateway (the send ledger; session transcripts when
/// they land) as `health` and `status` report it under `storage.<name>`
/// (docs/gateway-protocol.md): whether it can record, and if not, why and since when.
/// The gateway keeps serving while a store is faulted; only what needs the store
/// is refused (UNAVAILABLE, naming the same cause).
struct StoreHealth {
    let name: String
    let path: String
    /// The cause and since when (wall-clock ms), nil while the store records normally.
    /// Whoever owns the store calls `GatewayServer.healthDidChange()` when it appears, changes
    /// or clears (both stores do, from their `onFaultChange`): `health` reads it again then,
    /// not on every request.
    let fault: () -> (cause: String, sinceMs: Int64)?

    var isHealthy: Bool { fault() == nil }

    var json: JSONValue {
        var o = JSONObject()
        o["path"] = .string(path)
        if let (cause, since) = fault() {
            o["ok"] = false
            o["error"] = .string(cause)
            o["since"] = .string(Timestamp.iso8601(ms: since))
        } else {
            o["ok"] = true
        }
        return .object(o)
    }

    static func json(_ stores: [StoreHealth]) -> JSONValue {
        .object(JSONObject(stores.map { (key: $0.name, value: $0.json) }))
    }
}
