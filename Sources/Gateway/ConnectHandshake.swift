import Glibc
import GatewayProtocol
import JSONCore
import NetIO

/// The `connect` request: protocol and role negotiation, the shared secret (with the
/// failure limiter), client bounds, then hello-ok and the client's entry in presence.
extension GatewayServer {
    func authenticate(_ connection: Connection, requestId: String, params: JSONValue) {
        let role = params["role"]?.stringValue ?? "operator"
        guard let negotiated = Admission.protocolVersion(params, role: role) else {
            connection.sendResponse(id: requestId, error: RPCError(
                .invalidRequest, "protocol mismatch: this gateway speaks protocol \(WireProtocol.version)"
                    + " (\(WireProtocol.legacyVersion) for probe clients and nodes)",
                details: ["expectedProtocol": .int(WireProtocol.version)]))
            connection.close(.protocolError, "protocol mismatch")
            return
        }
        guard Admission.roles.contains(role) else {
            connection.sendResponse(id: requestId, error: RPCError(
                .invalidRequest, "unknown role \"\(role)\": this gateway admits \(Admission.roles.joined(separator: " and "))",
                details: ["field": "role"]))
            connection.close(.policyViolation, "invalid connect params")
            return
        }
        guard let clientJSON = params["client"], let clientId = clientJSON["id"]?.stringValue, !clientId.isEmpty else {
            connection.sendResponse(id: requestId, error: RPCError(.invalidRequest, "missing required param: client.id"))
            connection.close(.policyViolation, "invalid connect params")
            return
        }
        if let secret = settings.secret {
            let field = settings.auth == .password ? "password" : "token"
            let kind = settings.auth == .password ? "PASSWORD" : "TOKEN"
            let given = params["auth"]?[field]?.stringValue
            let code: String?
            if given == nil || given == "" {
                code = "AUTH_\(kind)_MISSING"
            } else if !AuthGuard.constantTimeEquals(given!, secret) {
                code = "AUTH_\(kind)_MISMATCH"
            } else {
                code = nil
            }
            if let code {
                refuseAuth(connection, requestId: requestId, code: code, field: field)
                return
            }
        }
        let scopes = Admission.scopes(requested: params["scopes"]?.arrayValue?.compactMap(\.stringValue) ?? [], role: role)
        let info = Connection.ClientInfo(
            id: clientId, version: clientJSON["version"]?.stringValue, platform: clientJSON["platform"]?.stringValue,
            mode: clientJSON["mode"]?.stringValue, displayName: clientJSON["displayName"]?.stringValue,
            instanceId: clientJSON["instanceId"]?.stringValue, role: role)
        do throws(RPCError) {
            try info.checkBounds(scopes: scopes)
        } catch {
            connection.sendResponse(id: requestId, error: error)
            connection.close(.policyViolation, "invalid connect params")
            return
        }
        connection.client = info
        connection.scopes = scopes
        presence.join(connection)  // the snapshot lists the new client too
        connection.completeHandshake(requestId: requestId) { w in
            writeHello(to: &w, connection, protocolVersion: negotiated, role: role, scopes: scopes)
        }
        log.info("client connected", fields: connection.logFields + [("OPENCLAW_METHOD", "connect"),
                                                                     ("OPENCLAW_CLIENT_MODE", info.mode ?? "")])
        presenceChanged()
    }

    /// A wrong or missing secret. The limiter only shapes how failures are answered
    /// and logged; it is never asked before the secret, so it cannot refuse a right one.
    private func refuseAuth(_ connection: Connection, requestId: String, code: String, field: String) {
        let peer = connection.peer?.host ?? "unknown"
        let error: RPCError
        switch authGuard.recordFailure(peer: peer, now: EventLoop.nowMs()) {
        case .refuse:
            metrics.authFailed(code)
            log.warning("auth failed: \(code)", fields: connection.logFields + [("OPENCLAW_AUTH_ERROR", code)])
            error = RPCError(.forbidden, code.hasSuffix("MISSING") ? "gateway \(field) required" : "gateway \(field) mismatch",
                             details: ["code": .string(code)])
        case .startThrottling(let wait):
            metrics.authFailed("AUTH_RATE_LIMITED")
            log.warning("auth failed: \(code); further failures from \(peer) are answered AUTH_RATE_LIMITED "
                        + "and not logged for \(wait / 1000) s", fields: connection.logFields + [("OPENCLAW_AUTH_ERROR", code)])
            error = Self.rateLimited(wait)
        case .throttled(let wait):
            metrics.authFailed("AUTH_RATE_LIMITED")
            error = Self.rateLimited(wait)
        }
        connection.sendResponse(id: requestId, error: error)
        connection.close(.policyViolation, "unauthorized")
    }

    private static func rateLimited(_ wait: Int64) -> RPCError {
        RPCError(.forbidden, "too many failed auth attempts; retry later",
                 details: ["code": "AUTH_RATE_LIMITED"], retryable: true, retryAfterMs: wait)
    }

    /// hello-ok, written typed: with a crowd connected it is mostly the presence snapshot,
    /// copied from the clients' encoded entries.
    private func writeHello(to w: inout JSONByteWriter, _ connection: Connection, protocolVersion: Int64, role: String,
                            scopes: [String]) {
        w.beginObject()
        w.key("type"); w.string("hello-ok")
        w.key("protocol"); w.int(protocolVersion)
        // pid, uid, profile and instanceId say *which* gateway answered: `gateway status` compares them
        // with the unit it inspects, so another gateway on the same port is not taken for ours.
        w.key("server"); w.beginObject()
        w.key("version"); w.string(BuildInfo.version)
        w.key("connId"); w.string(connection.id)
        w.key("host"); w.string(hostname)
        w.key("pid"); w.int(Int64(getpid()))
        w.key("uid"); w.int(Int64(getuid()))
        w.key("profile"); w.string(settings.paths.profileLabel)
        w.key("instanceId"); w.string(log.instance)
        w.endObject()
        w.key("features"); w.beginObject()
        w.key("methods"); w.beginArray()
        for method in Methods.all where isRegistered(method) { w.string(method) }
        w.endArray()
        w.key("events"); w.beginArray()
        for event in Events.all { w.string(event) }
        w.endArray()
        w.endObject()
        w.key("snapshot"); w.beginObject()
        w.key("presence"); writePresenceList(to: &w, limit: presenceEventLimit, maxBytes: presenceEventMaxBytes)
        w.key("presenceTotal"); w.int(presence.count + 1)
        w.key("health"); w.value(healthPayload(durationMs: 0))
        w.key("stateVersion"); stateVersion.write(to: &w)
        w.key("uptimeMs"); w.int(uptimeMs)
        w.key("configPath"); w.string(settings.paths.configPath)
        w.key("stateDir"); w.string(settings.paths.stateDir)
        w.key("authMode"); w.string(effectiveAuthMode.rawValue)
        w.endObject()
        w.key("auth"); w.beginObject()
        w.key("role"); w.string(role)
        w.key("scopes"); w.beginArray()
        for scope in scopes { w.string(scope) }
        w.endArray()
        w.endObject()
        w.key("policy"); w.beginObject()
        w.key("maxPayload"); w.int(settings.maxPayload)
        w.key("maxBufferedBytes"); w.int(settings.maxBufferedBytes)
        w.key("tickIntervalMs"); w.int(settings.tickIntervalMs)
        w.endObject()
        w.endObject()
    }
}
