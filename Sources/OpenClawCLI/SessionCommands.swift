import Gateway
import JSONCore

/// `openclaw sessions list|history`: the gateway's `sessions.list` and `chat.history`.
extension GatewayCommands {
    func sessions(_ override: RPCTarget, _ request: SessionsRequest) throws(CommandFailure) -> Int32 {
        let target = try resolve(override)
        guard let key = request.key else {
            var params = JSONObject()
            if let limit = request.limit { params["limit"] = .int(Int64(limit)) }
            let list = try call(target, "sessions.list", params: .object(params))
            if request.json {
                terminal.line(list.prettyPrinted())
                return CLI.Exit.ok
            }
            let sessions = list["sessions"]?.arrayValue ?? []
            if sessions.isEmpty {
                terminal.line("No sessions yet (in \(list["path"]?.stringValue ?? "the state directory")).")
            }
            for s in sessions {
                let updated = s["updatedAt"]?.intValue.map { Timestamp.iso8601(ms: $0) } ?? "?"
                terminal.line("\(s["key"]?.stringValue ?? "?")  \(s["kind"]?.stringValue ?? "")  updated \(updated)")
            }
            return CLI.Exit.ok
        }
        var params = JSONObject()
        params["sessionKey"] = .string(key)
        if let limit = request.limit { params["limit"] = .int(Int64(limit)) }
        let history = try call(target, "chat.history", params: .object(params))
        if request.json {
            terminal.line(history.prettyPrinted())
            return CLI.Exit.ok
        }
        let messages = history["messages"]?.arrayValue ?? []
        if messages.isEmpty {
            terminal.line("Session \(key) has no turns yet (`openclaw sessions list` shows the sessions there are).")
        }
        for m in messages {
            let role = m["role"]?.stringValue ?? "?"
            let who = m["from"]?.stringValue.map { "\(role) \($0)" } ?? role
            let ts = m["ts"]?.intValue.map { Timestamp.iso8601(ms: $0) } ?? "?"
            terminal.line("[\(ts)] \(terminal.paint(who, role == "user" ? .bold : .green)): \(m["text"]?.stringValue ?? "")")
        }
        return CLI.Exit.ok
    }
}
