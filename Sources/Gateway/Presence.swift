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
    /// The gateway's own entry, encoded once (nothing in it changes).
    var ownEntry: [UInt8] = []

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
    ///
    /// Every connect writes this list twice (its hello-ok, the next `presence` event), so
    /// each entry is copied from its encoding (`Connection.presenceJSON`), not rebuilt.
    func writePresenceList(to w: inout JSONByteWriter, limit: Int = .max, maxBytes: Int = .max) {
        let order = presence.order
        // Newest first: the window starts after the first client that does not fit.
        var start = order.endIndex
        var clients = 0
        var bytes = 0
        while start > order.startIndex {
            let connection = order[start - 1]
            if !connection.leftPresence {
                bytes += connection.presenceBytes
                guard clients < limit - 1, bytes <= maxBytes else {
                    // Each connect moves the window by one: the client it drops keeps no copy.
                    connection.presenceJSON = nil
                    break
                }
                clients += 1
            }
            start -= 1
        }
        w.beginArray()
        w.encoded(ownPresenceEntry)
        for connection in order[start...] where !connection.leftPresence {
            w.encoded(presenceEntry(connection))
        }
        w.endArray()
    }

    private var ownPresenceEntry: [UInt8] {
        if presence.ownEntry.isEmpty {
            JSONByteWriter.appending(to: &presence.ownEntry) { w in
                w.beginObject()
                w.key("host"); w.string(hostname)
                w.key("mode"); w.string("gateway")
                w.key("version"); w.string(BuildInfo.version)
                w.key("platform"); w.string("linux")
                w.key("reason"); w.string("self")
                w.key("ts"); w.int(startedWallMs)
                w.endObject()
            }
        }
        return presence.ownEntry
    }

    private func presenceEntry(_ connection: Connection) -> [UInt8] {
        if let cached = connection.presenceJSON { return cached }
        guard let c = connection.client else { return Array("null".utf8) }
        var out: [UInt8] = []
        JSONByteWriter.appending(to: &out) { w in
            w.beginObject()
            if let ip = connection.peer?.host { w.key("ip"); w.string(ip) }
            if let v = c.version { w.key("version"); w.string(v) }
            if let p = c.platform { w.key("platform"); w.string(p) }
            if let m = c.mode { w.key("mode"); w.string(m) }
            if let i = c.instanceId { w.key("instanceId"); w.string(i) }
            if let d = c.displayName { w.key("host"); w.string(d) }
            if let t = connection.presenceText { w.key("text"); w.string(t) }
            w.key("reason"); w.string("connect")
            w.key("ts"); w.int(connection.connectedWallMs)
            w.key("roles"); w.beginArray(); w.string(c.role); w.endArray()
            w.key("scopes"); w.beginArray()
            for scope in connection.scopes { w.string(scope) }
            w.endArray()
            w.key("connId"); w.string(connection.id)
            w.key("clientId"); w.string(c.id)
            w.endObject()
        }
        connection.presenceJSON = out
        return out
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
        broadcast(event: "presence", stateVersion: stateVersion, isState: true) { w in
            w.beginObject()
            w.key("presence"); writePresenceList(to: &w, limit: presenceEventLimit, maxBytes: presenceEventMaxBytes)
            w.key("total"); w.int(presence.count + 1)
            w.endObject()
        }
    }
}
