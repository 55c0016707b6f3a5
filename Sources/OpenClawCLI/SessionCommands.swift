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
            for line in SessionText.list(list) { terminal.line(line) }
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
        for line in SessionText.history(history, key: key, paint: terminal.paint) { terminal.line(line) }
        return CLI.Exit.ok
    }
}
