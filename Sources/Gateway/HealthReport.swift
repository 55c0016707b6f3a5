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

/// The slow-changing part of `health`, serialized once per change: the stores' condition
/// and the fields upstream's clients decode.
///
/// It changes only when a store faults or recovers, the channels are reconfigured or the
/// session list changes (and, while sessions are listed, with their ages, so at most once
/// per millisecond), yet it is most of a `health` answer's bytes, and `health` is the
/// request the benchmarks measure. Immutable: an answer holds it by reference, uncopied.
final class HealthTail {
    /// What it shows besides the stores' faults, which drop it when they change
    /// (`GatewayServer.healthDidChange`).
    struct Key: Equatable {
        var channels: UInt64
        var sessions: UInt64
    }

    let key: Key
    /// The time the sessions' `age`s were computed for while it lists any (they move with the
    /// clock, so it is stale a millisecond later); nil when it lists none.
    let agesAtMs: Int64?
    let entries: [(key: String, value: JSONValue)]
    /// `entries` as the members of a JSON object, without the braces.
    let members: [UInt8]
    let storesHealthy: Bool

    init(key: Key, agesAtMs: Int64?, storesHealthy: Bool, entries: [(key: String, value: JSONValue)]) {
        self.key = key
        self.agesAtMs = agesAtMs
        self.entries = entries
        self.storesHealthy = storesHealthy
        var members = JSONValue.object(JSONObject(entries)).serialized()
        members.removeFirst()
        members.removeLast()
        self.members = members
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
        let tail = currentHealthTail(now: now)
        var entries: [(key: String, value: JSONValue)] = [
            ("ok", .bool(healthOK(tail))), ("ts", .int(now)), ("durationMs", .int(durationMs)), ("uptimeMs", .int(uptimeMs)),
        ]
        if let link = channels.linkChannel() { entries.append(("linkChannel", link)) }
        entries.append(("channels", channels.statusMap()))
        return .object(JSONObject(entries + tail.entries))
    }

    /// `healthPayload` written straight into a response, without building its tree: the fields
    /// that change with every answer written here, the rest copied from `HealthTail`.
    /// `durationMs` is what the check took since `startedUs`, in milliseconds with microsecond
    /// precision (whole milliseconds read 0 for a check that takes microseconds); `uptimeMs`
    /// comes from the same clock reading.
    func writeHealth(into w: inout JSONByteWriter, startedUs: Int64) {
        let now = EventLoop.wallClockMs()
        let tail = currentHealthTail(now: now)
        let doneUs = EventLoop.nowUs()
        w.beginObject()
        w.key("ok"); w.bool(healthOK(tail))
        w.key("ts"); w.int(now)
        w.key("durationMs"); w.decimal(doneUs - startedUs, fractionDigits: 3)
        w.key("uptimeMs"); w.int(doneUs / 1000 - startedMonoMs)  // `uptimeMs`, without a second reading
        if let link = channels.linkChannel() {
            w.key("linkChannel"); w.value(link)
        }
        w.key("channels"); channels.writeStatusMap(into: &w)
        w.encodedMembers(tail.members)
        w.endObject()
    }

    private func healthOK(_ tail: HealthTail) -> Bool {
        isReady && !isStopping && channels.isHealthy && tail.storesHealthy
    }

    /// `healthTail`, rebuilt first when what it shows changed.
    private func currentHealthTail(now: Int64) -> HealthTail {
        let key = HealthTail.Key(channels: channels.revision, sessions: sessions?.revision ?? 0)
        // The session list is the same for the same revision, so whether it has ages to move
        // is known from the tail, without counting the sessions again.
        if let tail = healthTail, tail.key == key, tail.agesAtMs == nil || tail.agesAtMs == now { return tail }
        let links = channels.linkStates()
        let summary = sessionSummary()
        let sessions = summary.json(nowMs: now)
        let tail = HealthTail(key: key, agesAtMs: summary.recent.isEmpty ? nil : now,
                              storesHealthy: stores.allSatisfy(\.isHealthy), entries: [
            ("storage", StoreHealth.json(stores)),
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
        healthTail = tail
        return tail
    }
}
