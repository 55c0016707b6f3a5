import GatewayProtocol
import JSONCore
import NetIO

/// Events to every client past hello-ok: encoded once, each connection splicing in its
/// own `seq`; state events (`tick`, `presence`, `health`) skip clients that lag.
extension GatewayServer {
    func healthDidChange() {
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

    /// Encodes the event once; each connection splices in its own `seq`.
    func broadcast(event: String, payload: JSONValue, stateVersion: StateVersion?, isState: Bool = false) {
        guard presence.count > 0 else { return }
        var prefix = Frame.event(name: event, payload: payload, seq: nil, stateVersion: stateVersion).json.serialized()
        prefix.removeLast()  // the closing brace; seq goes in its place
        let backlogLimit = isState ? Self.stateEventBacklogLimit : Int.max
        var sent = 0
        for connection in connections.values where connection.phase == .ready {
            if connection.sendSharedEvent(prefix: prefix, unlessBacklogAbove: backlogLimit) { sent += 1 }
        }
        metrics.eventSent(event, count: sent)
    }

    func tick() {
        broadcast(event: "tick", payload: ["ts": .int(EventLoop.wallClockMs())], stateVersion: nil, isState: true)
    }
}
