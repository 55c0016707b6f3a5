import GatewayProtocol
import JSONCore
import NetIO

/// `sessions.list` and `chat.history`: the read side of the session store.
enum SessionMethods {
    static let defaultHistoryLimit = 100
    static let maxHistoryLimit = 1_000

    static func register(on server: GatewayServer, store: SessionStore) {
        server.registerMethod("sessions.list") { call in
            var limit = Int.max
            if let v = call.params["limit"], !v.isNull {
                guard let l = v.intValue, l >= 1 else { return call.fail(SendService.invalid("limit", "must be a positive integer")) }
                limit = Int(min(l, Int64(Int.max)))
            }
            call.respond(["path": .string(store.directory), "count": .int(Int64(store.count)),
                          "sessions": .array(store.recent(limit: limit).map(\.json))])
        }
        server.registerMethod("chat.history") { call in
            do throws(RPCError) {
                let key = try sessionKey(call.params)
                var limit = defaultHistoryLimit
                if let v = call.params["limit"], !v.isNull {
                    guard let l = v.intValue, (1...Int64(maxHistoryLimit)).contains(l) else {
                        throw SendService.invalid("limit", "must be an integer in 1…\(maxHistoryLimit)")
                    }
                    limit = Int(l)
                }
                let turns: [SessionStore.Turn]
                do throws(SystemCallError) {
                    turns = try store.history(key, limit: limit)
                } catch {
                    throw unavailable(error, what: "cannot read the transcript of \(key)")
                }
                call.respond(["sessionKey": .string(key), "messages": .array(turns.map(\.json))])
            } catch {
                call.fail(error)
            }
        }
    }

    /// `sessionKey` of a request, checked.
    static func sessionKey(_ params: JSONValue, field: String = "sessionKey") throws(RPCError) -> String {
        guard let key = params[field]?.stringValue else {
            throw SendService.invalid(field, "required (a session key such as \"irc:direct:alice\"; see sessions.list)")
        }
        if let problem = SessionKey.problem(key) { throw SendService.invalid(field, problem) }
        return key
    }

    /// A storage failure as the client sees it: UNAVAILABLE, naming the cause (ENOSPC, EIO, …).
    static func unavailable(_ error: SystemCallError, what: String) -> RPCError {
        RPCError(.unavailable, "\(what): \(error)", details: ["errno": .int(Int64(error.errno))], retryable: true)
    }
}
