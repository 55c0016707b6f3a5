import GatewayProtocol
import JSONCore
import NetIO

/// Events to every client past hello-ok: encoded once, each connection splicing in its
/// own `seq`; state events (`tick`, `presence`, `health`) skip clients that lag.
extension GatewayServer {
    /// What `health` shows changed (a channel's link, a store's fault): clients get the new one.
    func healthDidChange() {
        healthTail = nil
        stateVersion.health += 1
        broadcast(event: "health", payload: healthPayload(durationMs: 0), stateVersion: stateVersion, isState: true)
    }

    func broadcast(event: String, payload: JSONValue) {
        broadcast(event: event, payload: payload, stateVersion: nil)
    }

    /// A client whose unsent output passes this skips state events (`tick`,
    /// `presence`, `health`): each carries the whole state, so the next one it
    /// does get supersedes what it missed, and a lagging crowd cannot pile up copies.
    static let stateEventBacklogLimit = 64 * 1024

    func broadcast(event: String, payload: JSONValue, stateVersion: StateVersion?, isState: Bool = false) {
        broadcast(event: event, stateVersion: stateVersion, isState: isState) { $0.value(payload) }
    }

    /// Encodes the event once, typed, with `writePayload` writing its one payload value; every
    /// connection gets those same bytes (sent uncopied when large) and its own `seq` after them.
    func broadcast(event: String, stateVersion: StateVersion?, isState: Bool = false,
                   writingPayload writePayload: (inout JSONByteWriter) -> Void) {
        guard presence.count > 0 else { return }
        var prefix: [UInt8] = []
        JSONByteWriter.appending(to: &prefix) { w in
            Connection.writeEventStart(&w, name: event, writingPayload: writePayload)
            if let stateVersion { w.key("stateVersion"); stateVersion.write(to: &w) }
            // No closing brace: each connection's seq goes there.
        }
        let backlogLimit = isState ? Self.stateEventBacklogLimit : Int.max
        var tail: [UInt8] = []
        tail.reserveCapacity(32)
        var sent = 0
        for connection in connections.values where connection.phase == .ready {
            if connection.sendSharedEvent(prefix: prefix, tail: &tail, unlessBacklogAbove: backlogLimit) { sent += 1 }
        }
        metrics.eventSent(event, count: sent)
    }

    func tick() {
        broadcast(event: "tick", payload: ["ts": .int(EventLoop.wallClockMs())], stateVersion: nil, isState: true)
    }
}
