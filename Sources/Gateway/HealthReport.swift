import JSONCore
import NetIO

/// What `health.sessions` reports: the session store's path, how many sessions it holds,
/// and the most recently updated ones (newest first, at most `recentLimit`).
struct SessionSummary {
    static let recentLimit = 5
    var path: String
    var count: Int
    var recent: [(key: String, updatedAtMs: Int64?)]

    /// `{path, count, recent:[{key, updatedAt, age}]}` as upstream shapes it (`age` in ms; null when unknown).
    func json(nowMs: Int64) -> JSONValue {
        .object(JSONObject([
            ("path", .string(path)),
            ("count", .int(Int64(count))),
            ("recent", .array(recent.prefix(Self.recentLimit).map { entry in
                .object(JSONObject([
                    ("key", .string(entry.key)),
                    ("updatedAt", entry.updatedAtMs.map(JSONValue.int) ?? .null),
                    ("age", entry.updatedAtMs.map { .int(max(0, nowMs - $0)) } ?? .null),
                ]))
            })),
        ]))
    }
}

/// The `health` payload (also hello-ok's `snapshot.health` and the `health` event).
///
/// This gateway's own fields (`ok`, `uptimeMs`, `linkChannel`, `channels`, `storage`) plus the ones
/// upstream's clients decode, each filled with what is true here: one agent (`main`, the
/// configured CLI backend), no heartbeat runner (`heartbeatSeconds: 0`, heartbeat disabled),
/// the channels in config order with their labels, and the session store's summary.
extension GatewayServer {
    static let defaultAgentId = "main"

    /// `health.sessions` from the session store (`<stateDir>/sessions`, one transcript per session).
    func sessionSummary() -> SessionSummary {
        guard let store = sessions else {
            return SessionSummary(path: settings.paths.stateDir + "/" + SessionStore.directoryName, count: 0, recent: [])
        }
        return SessionSummary(path: store.directory, count: store.count,
                              recent: store.recent(limit: SessionSummary.recentLimit).map { ($0.key, $0.updatedMs) })
    }

    func healthPayload(durationMs: Int64) -> JSONValue {
        let now = EventLoop.wallClockMs()
        let links = channels.linkStates()
        let sessions = sessionSummary().json(nowMs: now)
        var entries: [(key: String, value: JSONValue)] = [
            ("ok", .bool(isReady && !isStopping && channels.isHealthy && stores.allSatisfy(\.isHealthy))),
            ("ts", .int(now)),
            ("durationMs", .int(durationMs)),
            ("uptimeMs", .int(uptimeMs)),
        ]
        if let link = channels.linkChannel() { entries.append(("linkChannel", link)) }
        entries.append(("channels", channels.statusMap()))
        entries.append(("channelOrder", .array(links.map { .string($0.id) })))
        entries.append(("channelLabels", .object(JSONObject(links.map { (key: $0.id, value: .string($0.label)) }))))
        entries.append(("heartbeatSeconds", 0))
        entries.append(("defaultAgentId", .string(Self.defaultAgentId)))
        entries.append(("agents", [[
            "agentId": .string(Self.defaultAgentId),
            "isDefault": true,
            "heartbeat": ["enabled": false, "every": "disabled", "everyMs": .null],
            "sessions": sessions,
        ]]))
        entries.append(("sessions", sessions))
        entries.append(("storage", StoreHealth.json(stores)))
        return .object(JSONObject(entries))
    }
}
