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

/// The fields of `health` that upstream's clients decode, serialized once per change.
///
/// They change only when the channels are reconfigured or the session list changes (and,
/// while sessions are listed, with their ages, so at most once per millisecond), yet they
/// are most of a `health` answer's bytes; `health` is the request the benchmarks measure.
struct HealthTail {
    struct Key: Equatable {
        var channels: UInt64
        var sessions: UInt64
        /// The answer's time while `recent` holds sessions (their `age` moves), else 0.
        var ageClockMs: Int64
    }

    private(set) var key: Key?
    private(set) var entries: [(key: String, value: JSONValue)] = []
    /// `entries` as the members of a JSON object, without the braces.
    private(set) var members: [UInt8] = []

    init() {}

    init(key: Key, entries: [(key: String, value: JSONValue)]) {
        self.key = key
        self.entries = entries
        members = JSONValue.object(JSONObject(entries)).serialized()
        members.removeFirst()
        members.removeLast()
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
        return .object(JSONObject(healthOwnEntries(now: now, durationMs: durationMs) + upstreamHealth(now: now).entries))
    }

    /// `healthPayload` written straight into a response: the own fields serialized, the
    /// upstream ones copied from the cache.
    func writeHealth(into out: inout [UInt8], durationMs: Int64) {
        let now = EventLoop.wallClockMs()
        JSONValue.object(JSONObject(healthOwnEntries(now: now, durationMs: durationMs))).serialize(into: &out)
        out.removeLast()  // the closing brace; the upstream members follow
        out.append(UInt8(ascii: ","))
        out.append(contentsOf: upstreamHealth(now: now).members)
        out.append(UInt8(ascii: "}"))
    }

    private func healthOwnEntries(now: Int64, durationMs: Int64) -> [(key: String, value: JSONValue)] {
        var entries: [(key: String, value: JSONValue)] = [
            ("ok", .bool(isReady && !isStopping && channels.isHealthy && stores.allSatisfy(\.isHealthy))),
            ("ts", .int(now)),
            ("durationMs", .int(durationMs)),
            ("uptimeMs", .int(uptimeMs)),
        ]
        if let link = channels.linkChannel() { entries.append(("linkChannel", link)) }
        entries.append(("channels", channels.statusMap()))
        entries.append(("storage", StoreHealth.json(stores)))
        return entries
    }

    private func upstreamHealth(now: Int64) -> HealthTail {
        let key = HealthTail.Key(channels: channels.revision, sessions: sessions?.revision ?? 0,
                                 ageClockMs: (sessions?.count ?? 0) > 0 ? now : 0)
        guard healthTail.key != key else { return healthTail }
        let links = channels.linkStates()
        let sessions = sessionSummary().json(nowMs: now)
        healthTail = HealthTail(key: key, entries: [
            ("channelOrder", .array(links.map { .string($0.id) })),
            ("channelLabels", .object(JSONObject(links.map { (key: $0.id, value: .string($0.label)) }))),
            ("heartbeatSeconds", 0),
            ("defaultAgentId", .string(Self.defaultAgentId)),
            ("agents", [[
                "agentId": .string(Self.defaultAgentId),
                "isDefault": true,
                "heartbeat": ["enabled": false, "every": "disabled", "everyMs": .null],
                "sessions": sessions,
            ]]),
            ("sessions", sessions),
        ])
        return healthTail
    }
}
