import JSONCore
import NetIO
import OpenClawConfig

/// The messaging channels configured in `openclaw.json` `channels`, owned by
/// the gateway: started once it serves, stopped on shutdown, their state in
/// `health`/`status`/`channels.status`, a `health` event on every link change,
/// and inbound messages broadcast as `chat` events.
final class ChannelRegistry {
    private unowned let server: GatewayServer
    /// In config order; the first one linked is the default for `send`.
    private(set) var channels: [MessageChannel] = []
    /// Work that must end with the channels (agent runs), registered by `Messaging`.
    var onStop: [() -> Void] = []

    init(server: GatewayServer) throws(ConfigError) {
        self.server = server
        let config = server.settings.channels
        if config.isNull { return }
        guard let object = config.objectValue else { throw ConfigError("channels must be an object") }
        for (id, value) in object.entries {
            if value["enabled"]?.boolValue == false { continue }
            switch id {
            case "irc":
                channels.append(IRCChannel(loop: server.loop, log: server.log, config: try IRCConfig.parse(value)))
            default:
                server.log.warning("channels.\(id): this gateway has no \(id) channel (supported: irc); ignored",
                                   fields: [("OPENCLAW_CHANNEL", id)])
            }
        }
        for channel in channels {
            channel.onStateChange = { [unowned self, unowned channel] in self.stateChanged(channel) }
            channel.onInbound = { [unowned self] message in
                self.server.broadcast(event: "chat", payload: message.json)
            }
        }
    }

    func start() {
        for channel in channels { channel.link() }
    }

    func stop() {
        for handler in onStop { handler() }
        onStop.removeAll()
        for channel in channels { channel.unlink() }
    }

    private func stateChanged(_ channel: MessageChannel) {
        let s = channel.state
        server.log.info("channel \(channel.id): linked=\(s.linked) connected=\(s.connected)"
            + (s.lastError.map { " (\($0))" } ?? ""), fields: [("OPENCLAW_CHANNEL", channel.id)])
        server.healthDidChange()
    }

    func channel(_ id: String) -> MessageChannel? {
        channels.first { $0.id == id }
    }

    var configuredIDs: [String] { channels.map(\.id) }

    /// The channel `send` uses when the caller names none: the first linked one,
    /// else the first configured (whose error then explains why it cannot send).
    var defaultChannel: MessageChannel? {
        channels.first { $0.state.linked } ?? channels.first
    }

    func statusMap() -> JSONValue {
        let now = EventLoop.wallClockMs()
        return .object(JSONObject(channels.map { (key: $0.id, value: $0.state.json(nowMs: now)) }))
    }

    func linkChannel() -> JSONValue? {
        guard let c = defaultChannel else { return nil }
        var o = JSONObject()
        o["id"] = .string(c.id)
        o["label"] = .string(c.label)
        o["linked"] = .bool(c.state.linked)
        if c.state.linked, let at = c.state.linkedAtMs { o["authAgeMs"] = .int(max(0, EventLoop.wallClockMs() - at)) }
        return .object(o)
    }

    /// False while any configured channel is not linked (O2: `health.ok`).
    var isHealthy: Bool {
        channels.allSatisfy { $0.state.linked }
    }
}
