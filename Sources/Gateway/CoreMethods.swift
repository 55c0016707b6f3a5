import Glibc
import GatewayProtocol
import JSONCore
import OpenClawConfig

/// The core methods and the `status` payload, apart from the server's connection and lifecycle code.
extension GatewayServer {
    /// The methods every gateway serves whatever its channels and agent: health, status,
    /// presence, channel status, system events, log tail (the others register their own).
    func registerCoreMethods() {
        registerMethod("health") { [unowned self] call in
            // Timed from dispatch (the call's start): one clock read fewer per request.
            call.respond { self.writeHealth(into: &$0, startedUs: call.startNs / 1000) }
        }
        // No heartbeat runner here (upstream's periodic agent check-in): nothing has been sent.
        registerMethod("last-heartbeat") { call in call.respond(.null) }
        registerMethod("status") { [unowned self] call in call.respond(self.statusPayload()) }
        registerMethod("system-presence") { [unowned self] call in
            call.respond { self.writePresenceList(to: &$0) }
        }
        registerMethod("channels.status") { [unowned self] call in call.respond(self.channels.statusMap()) }
        registerMethod("system-event") { [unowned self] call in
            let text: String
            do throws(RPCError) {
                text = try call.requiredString("text", maxBytes: WireProtocol.maxClientStringBytes)
            } catch { return call.fail(error) }
            guard let connection = self.connections[call.connId] else { return }
            connection.presenceText = text
            self.log.info("system event: \(text)", fields: connection.logFields + [("OPENCLAW_METHOD", "system-event")])
            call.respond(["ok": true])
            self.presenceChanged()
        }
        registerMethod("logs.tail") { [unowned self] call in
            do throws(RPCError) { call.respond(try self.logReader.tail(params: call.params)) } catch { call.fail(error) }
        }
    }

    func statusPayload() -> JSONValue {
        var o = JSONObject()
        o["version"] = .string(BuildInfo.version)
        o["pid"] = .int(Int64(getpid()))
        o["uptimeMs"] = .int(uptimeMs)
        o["startedAt"] = .string(Timestamp.iso8601(ms: startedWallMs))
        o["configPath"] = .string(settings.paths.configPath)
        o["stateDir"] = .string(settings.paths.stateDir)
        o["profile"] = .string(settings.paths.profileLabel)
        o["bind"] = .string(listeners.first?.address?.host ?? settings.bind)
        o["port"] = .int(Int64(listeners.first?.address?.port ?? settings.port))
        o["activation"] = .string(activation)
        if let watchdogUsec { o["watchdogUsec"] = .int(Int64(watchdogUsec)) }
        o["clients"] = .int(Int64(presence.count))
        if let link = channels.linkChannel() { o["linkChannel"] = link }
        o["channels"] = channels.statusMap()
        o["storage"] = StoreHealth.json(stores)
        o["auth"] = ["mode": .string(effectiveAuthMode.rawValue)]
        if let lastError { o["lastError"] = .string(lastError) }
        if let agent = agentStatus?() { o["agent"] = agent }
        if lastReload.count > 0 { o["reload"] = lastReload.json }
        if let takeOverReport { o["handover"] = takeOverReport.json }
        return .object(o)
    }
}
