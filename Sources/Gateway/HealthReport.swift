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
/// request the benchmarks measure.
struct HealthTail {
    struct Key: Equatable {
        var channels: UInt64
        var sessions: UInt64
        /// The answer's time while `recent` holds sessions (their `age` moves), else 0.
        var ageClockMs: Int64
        /// Each store's fault (nil while it records).
        var storeFaults: [Fault?]
    }

    struct Fault: Equatable {
        var cause: String
        var sinceMs: Int64

        init?(_ store: StoreHealth) {
            guard let (cause, since) = store.fault() else { return nil }
            self.cause = cause
            sinceMs = since
        }
    }

    private(set) var key: Key?
    private(set) var entries: [(key: String, value: JSONValue)] = []
    /// `entries` as the members of a JSON object, without the braces.
    private(set) var members: [UInt8] = []
    private(set) var storesHealthy = true

    init() {}

    init(key: Key, entries: [(key: String, value: JSONValue)]) {
        self.key = key
        self.entries = entries
        storesHealthy = key.storeFaults.allSatisfy { $0 == nil }
        members = JSONValue.object(JSONObject(entries)).serialized()
        members.removeFirst()
        members.removeLast()
    }

    /// Whether it still shows the present, checked without allocating (once per `health`).
    func isCurrent(channels: UInt64, sessions: UInt64, ageClockMs: Int64, stores: [StoreHealth]) -> Bool {
        // Compared through `key?.` rather than bound: binding would copy the key (and retain its array).
        guard key?.channels == channels, key?.sessions == sessions, key?.ageClockMs == ageClockMs,
              let known = key?.storeFaults, known.count == stores.count else { return false }
        for i in stores.indices {  // each store's fault read in place: no copy of the store per answer
            let fault = stores[i].fault()
            if fault?.cause != known[i]?.cause || fault?.sinceMs != known[i]?.sinceMs { return false }
        }
        return true
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
        refreshHealthTail(now: now)
        var entries: [(key: String, value: JSONValue)] = [
            ("ok", .bool(healthOK)), ("ts", .int(now)), ("durationMs", .int(durationMs)), ("uptimeMs", .int(uptimeMs)),
        ]
        if let link = channels.linkChannel() { entries.append(("linkChannel", link)) }
        entries.append(("channels", channels.statusMap()))
        return .object(JSONObject(entries + healthTail.entries))
    }

    /// `healthPayload` written straight into a response, without building its tree: the fields
    /// that change with every answer written here, the rest copied from `HealthTail`.
    /// `durationMs` is what the check took since `startedUs`, in milliseconds with microsecond
    /// precision (whole milliseconds read 0 for a check that takes microseconds).
    func writeHealth(into w: inout JSONByteWriter, startedUs: Int64) {
        let now = EventLoop.wallClockMs()
        refreshHealthTail(now: now)
        w.beginObject()
        w.key("ok"); w.bool(healthOK)
        w.key("ts"); w.int(now)
        w.key("durationMs"); w.decimal(EventLoop.nowUs() - startedUs, fractionDigits: 3)
        w.key("uptimeMs"); w.int(uptimeMs)
        if let link = channels.linkChannel() {
            w.key("linkChannel"); w.value(link)
        }
        w.key("channels"); channels.writeStatusMap(into: &w)
        w.encodedMembers(healthTail.members)
        w.endObject()
    }

    private var healthOK: Bool {
        isReady && !isStopping && channels.isHealthy && healthTail.storesHealthy
    }

    /// Rebuilds `healthTail` when what it shows changed; in place otherwise (no copy of it per answer).
    private func refreshHealthTail(now: Int64) {
        let sessionsRevision = sessions?.revision ?? 0
        let ageClockMs = (sessions?.count ?? 0) > 0 ? now : 0
        if healthTail.isCurrent(channels: channels.revision, sessions: sessionsRevision, ageClockMs: ageClockMs,
                                stores: stores) {
            return
        }
        let key = HealthTail.Key(channels: channels.revision, sessions: sessionsRevision, ageClockMs: ageClockMs,
                                 storeFaults: stores.map(HealthTail.Fault.init))
        let links = channels.linkStates()
        let sessions = sessionSummary().json(nowMs: now)
        healthTail = HealthTail(key: key, entries: [
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
    }
}
