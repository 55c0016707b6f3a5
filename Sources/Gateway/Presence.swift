import GatewayProtocol
import JSONCore
import NetIO

/// The clients past hello-ok, in the order they joined, and the pacing of `presence` events.
///
/// Departed clients stay in `order` (marked `leftPresence`) until they are more than half of
/// it, so a leave costs O(1) and the list is compacted in amortized O(1) per leave too.
struct PresenceRoster {
    /// Clients past hello-ok that have not left.
    private(set) var count = 0
    /// Joined connections, oldest first; some may have left since the last compaction.
    private(set) var order: [Connection] = []
    private var departed = 0
    /// A coalesced `presence` event is scheduled.
    var broadcastPending = false
    var lastBroadcastMs: Int64 = .min / 2

    mutating func join(_ connection: Connection) {
        count += 1
        order.append(connection)
    }

    mutating func leave(_ connection: Connection) {
        connection.leftPresence = true
        count -= 1
        departed += 1
        if departed > 64 && departed > order.count / 2 {
            order.removeAll(where: \.leftPresence)
            departed = 0
        }
    }
}

/// Presence as clients see it: the list (`system-presence`, the hello-ok snapshot,
/// `presence` events) and when a change is announced.
extension GatewayServer {
    /// Presence entries, oldest first: the gateway's own, then each client past hello-ok.
    /// `limit` keeps the gateway and the newest clients: events and the hello-ok snapshot
    /// are capped so that a crowd of clients does not turn every connect into an O(N²)
    /// fan-out; `system-presence` answers the whole list.
    /// `maxBytes` bounds the (estimated) size of the list, so that client strings cannot
    /// make a hello-ok or presence event larger than a connection's output bound.
    func presenceList(limit: Int = .max, maxBytes: Int = .max) -> JSONValue {
        var clients: [JSONValue] = []
        var bytes = 0
        for connection in presence.order.reversed() where !connection.leftPresence {
            bytes += connection.presenceBytes
            guard clients.count < limit - 1, bytes <= maxBytes else { break }
            clients.append(presenceEntry(connection))
        }
        let own: JSONValue = .object(JSONObject([
            ("host", .string(hostname)), ("mode", "gateway"), ("version", .string(BuildInfo.version)),
            ("platform", "linux"), ("reason", "self"), ("ts", .int(startedWallMs)),
        ]))
        return .array([own] + clients.reversed())
    }

    private func presenceEntry(_ connection: Connection) -> JSONValue {
        guard let c = connection.client else { return .null }
        var entries: [(key: String, value: JSONValue)] = []
        entries.reserveCapacity(12)
        if let ip = connection.peer?.host { entries.append(("ip", .string(ip))) }
        if let v = c.version { entries.append(("version", .string(v))) }
        if let p = c.platform { entries.append(("platform", .string(p))) }
        if let m = c.mode { entries.append(("mode", .string(m))) }
        if let i = c.instanceId { entries.append(("instanceId", .string(i))) }
        if let d = c.displayName { entries.append(("host", .string(d))) }
        if let t = connection.presenceText { entries.append(("text", .string(t))) }
        entries.append(("reason", "connect"))
        entries.append(("ts", .int(connection.connectedWallMs)))
        entries.append(("roles", .array([.string(c.role)])))
        entries.append(("scopes", .array(connection.scopes.map(JSONValue.string))))
        entries.append(("connId", .string(connection.id)))
        entries.append(("clientId", .string(c.id)))
        return .object(JSONObject(entries))
    }

    /// Entries in events and the hello-ok snapshot (the gateway's own included): at
    /// most 100, and fewer as clients multiply, so one broadcast copies at most about
    /// 20,000 entries in all (a few MB) however many clients listen.
    var presenceEventLimit: Int { max(2, min(100, 20_000 / max(1, presence.count))) }
    /// Bytes of client entries in an event or hello-ok snapshot: well under any sane
    /// `maxBufferedBytes`, so a presence event never gets a client dropped.
    var presenceEventMaxBytes: Int { min(256 * 1024, settings.maxBufferedBytes / 4) }
    /// Bursts of connects and disconnects are coalesced into one `presence` event per interval.
    static let presenceMinIntervalMs: Int64 = 250

    func leavePresence(_ connection: Connection) {
        presence.leave(connection)
        log.info("client disconnected", fields: connection.logFields)
        presenceChanged()
    }

    func presenceChanged() {
        stateVersion.presence += 1
        statusChanged()
        guard !presence.broadcastPending else { return }
        let wait = presence.lastBroadcastMs + Self.presenceMinIntervalMs - EventLoop.nowMs()
        if wait <= 0 {
            broadcastPresence()
        } else {
            presence.broadcastPending = true
            loop.schedule(afterMs: wait) { [unowned self] in
                self.presence.broadcastPending = false
                self.broadcastPresence()
            }
        }
    }

    private func broadcastPresence() {
        presence.lastBroadcastMs = EventLoop.nowMs()
        broadcast(event: "presence", payload: .object(JSONObject([
            ("presence", presenceList(limit: presenceEventLimit, maxBytes: presenceEventMaxBytes)),
            ("total", .int(Int64(presence.count + 1))),
        ])), stateVersion: stateVersion, isState: true)
    }
}
