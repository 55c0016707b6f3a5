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
        connection.completeHandshake(hello: helloPayload(connection, protocolVersion: negotiated, role: role, scopes: scopes),
                                     requestId: requestId)
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

    private func helloPayload(_ connection: Connection, protocolVersion: Int64, role: String, scopes: [String]) -> JSONValue {
        [
            "type": "hello-ok",
            "protocol": .int(protocolVersion),
            // pid, uid, profile and instanceId say *which* gateway answered: `gateway status` compares them
            // with the unit it inspects, so another gateway on the same port is not taken for ours.
            "server": ["version": .string(BuildInfo.version), "connId": .string(connection.id), "host": .string(hostname),
                       "pid": .int(Int64(getpid())), "uid": .int(Int64(getuid())),
                       "profile": .string(settings.paths.profileLabel), "instanceId": .string(log.instance)],
            "features": ["methods": .array((Methods.all.filter { isRegistered($0) }).map(JSONValue.string)),
                         "events": .array(Events.all.map(JSONValue.string))],
            "snapshot": [
                "presence": presenceList(limit: presenceEventLimit, maxBytes: presenceEventMaxBytes),
                "presenceTotal": .int(Int64(presence.count + 1)),
                "health": healthPayload(durationMs: 0),
                "stateVersion": stateVersion.json,
                "uptimeMs": .int(uptimeMs),
                "configPath": .string(settings.paths.configPath),
                "stateDir": .string(settings.paths.stateDir),
                "authMode": .string(effectiveAuthMode.rawValue),
            ],
            "auth": ["role": .string(role), "scopes": .array(scopes.map(JSONValue.string))],
            "policy": ["maxPayload": .int(Int64(settings.maxPayload)),
                       "maxBufferedBytes": .int(Int64(settings.maxBufferedBytes)),
                       "tickIntervalMs": .int(Int64(settings.tickIntervalMs))],
        ]
    }
}
