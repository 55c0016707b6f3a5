import JSONCore
import NetIO
import OpenClawConfig

/// A channel's parsed config. Two equal specs mean the running channel can stay
/// as it is across a reload (comparing parsed values ignores key order and spacing).
enum ChannelSpec: Equatable {
    case irc(IRCConfig)

    var id: String {
        switch self {
        case .irc: "irc"
        }
    }

    /// Parses `openclaw.json` `channels`; also names the keys this gateway has no channel for.
    static func parse(_ config: JSONValue) throws(ConfigError) -> (specs: [ChannelSpec], unsupported: [String]) {
        if config.isNull { return ([], []) }
        guard let object = config.objectValue else { throw ConfigError("channels must be an object") }
        var specs: [ChannelSpec] = []
        var unsupported: [String] = []
        for (id, value) in object.entries {
            if value["enabled"]?.boolValue == false { continue }
            switch id {
            case "irc": specs.append(.irc(try IRCConfig.parse(value)))
            default: unsupported.append(id)
            }
        }
        return (specs, unsupported)
    }

    /// Equal but for who may start agent turns (`allowFrom`), which a running channel takes without relinking.
    func sameLink(as other: ChannelSpec) -> Bool {
        switch (self, other) {
        case (.irc(var a), .irc(let b)):
            a.allowFrom = b.allowFrom
            return a == b
        }
    }

    func makeChannel(loop: EventLoop, log: GatewayLog) -> MessageChannel {
        switch self {
        case .irc(let config): IRCChannel(loop: loop, log: log, config: config)
        }
    }
}

/// Checks one part of a reloaded config without changing anything and returns
/// how to apply it, so that one broken part fails the whole reload.
typealias ReloadStep = (GatewaySettings) throws(ConfigError) -> () -> Void

/// The messaging channels configured in `openclaw.json` `channels`, owned by
/// the gateway: started once it serves, swapped on reload where their config
/// changed, stopped on shutdown, their state in `health`/`status`/`channels.status`,
/// a `health` event on every link change, and inbound messages handed to `onInbound`.
final class ChannelRegistry {
    private struct Entry {
        let spec: ChannelSpec
        let channel: MessageChannel
    }

    private unowned let server: GatewayServer
    /// In config order; the first one linked is the default for `send`.
    private var entries: [Entry] = []
    /// Replaced or removed channels whose connection is still closing: kept alive
    /// until it is gone, since their sockets and timers call back into them.
    private var retiring: [ObjectIdentifier: MessageChannel] = [:]
    private var started = false
    private var stopped = false
    /// Bumped when the set of channels changes (a reload), so their ids and labels can be cached.
    private(set) var revision: UInt64 = 0
    /// Work that must end with the channels (agent runs), registered by `Messaging`.
    var onStop: [() -> Void] = []
    /// Inbound messages go here (`SessionTurns`: the `chat.inbound` event and agent turns), registered by `Messaging`.
    var onInbound: ((InboundMessage) -> Void)?
    /// Other parts a reload applies together with the channels (the agent backend), registered by `Messaging`.
    var reloadSteps: [ReloadStep] = []

    init(server: GatewayServer) throws(ConfigError) {
        self.server = server
        entries = try parse(server.settings.channels).map(makeEntry)
    }

    private func parse(_ config: JSONValue) throws(ConfigError) -> [ChannelSpec] {
        let (specs, unsupported) = try ChannelSpec.parse(config)
        for id in unsupported {
            server.log.warning("channels.\(id): this gateway has no \(id) channel (supported: irc); ignored",
                               fields: [("OPENCLAW_CHANNEL", id)])
        }
        return specs
    }

    private func makeEntry(_ spec: ChannelSpec) -> Entry {
        let channel = spec.makeChannel(loop: server.loop, log: server.log)
        channel.onStateChange = { [unowned self, unowned channel] in self.stateChanged(channel) }
        channel.onInbound = { [unowned self] message in self.onInbound?(message) }
        return Entry(spec: spec, channel: channel)
    }

    func start() {
        started = true
        for entry in entries { entry.channel.link() }
    }

    func stop() {
        stopped = true
        for handler in onStop { handler() }
        onStop.removeAll()
        for entry in entries { entry.channel.unlink(whenGone: {}) }
    }

    // MARK: reload

    /// Checks the channels and every reload step against `new`; throws (changing
    /// nothing) when any part is broken, else returns what applies them all.
    func prepareReload(_ new: GatewaySettings) throws(ConfigError) -> () -> Void {
        let specs = try parse(new.channels)
        var applies: [() -> Void] = []
        for step in reloadSteps { applies.append(try step(new)) }
        return { [unowned self] in
            self.apply(specs)
            for apply in applies { apply() }
        }
    }

    /// Keeps channels whose config is unchanged (no relink), unlinks the others,
    /// and links the new ones, each only once the channel it replaces has closed
    /// (an IRC server still holding the old connection would hand out another nick).
    private func apply(_ specs: [ChannelSpec]) {
        var old = entries
        var next: [Entry] = []
        var added: [Entry] = []
        for spec in specs {
            if let i = old.firstIndex(where: { $0.spec == spec }) {
                next.append(old.remove(at: i))
            } else if let i = old.firstIndex(where: { $0.spec.sameLink(as: spec) }) {
                // Only who may start agent turns changed: applied in place, the link stays up.
                let kept = old.remove(at: i)
                kept.channel.admit(spec)
                next.append(Entry(spec: spec, channel: kept.channel))
                server.log.notice("channel \(spec.id): allowFrom changed", fields: [("OPENCLAW_CHANNEL", spec.id)])
            } else {
                let entry = makeEntry(spec)
                next.append(entry)
                added.append(entry)
            }
        }
        guard !old.isEmpty || !added.isEmpty else {
            entries = next
            return
        }
        entries = next
        revision &+= 1
        let running = started && !stopped
        for entry in old {
            let channel = entry.channel
            let replacement = added.first { $0.channel.id == channel.id }?.channel
            server.log.notice("channel \(channel.id): " + (replacement == nil ? "removed from the configuration; unlinking"
                                                                             : "configuration changed; relinking"),
                              fields: [("OPENCLAW_CHANNEL", channel.id)])
            channel.onStateChange = nil
            channel.onInbound = nil
            let key = ObjectIdentifier(channel)
            retiring[key] = channel
            channel.unlink { [unowned self] in
                self.retiring[key] = nil
                // Unless yet another reload replaced it or the gateway is stopping meanwhile.
                if let replacement, self.started, !self.stopped, self.entries.contains(where: { $0.channel === replacement }) {
                    replacement.link()
                }
            }
        }
        for entry in added where !old.contains(where: { $0.channel.id == entry.channel.id }) {
            server.log.notice("channel \(entry.channel.id): added", fields: [("OPENCLAW_CHANNEL", entry.channel.id)])
            if running { entry.channel.link() }
        }
        server.healthDidChange()
    }

    // MARK: state

    private func stateChanged(_ channel: MessageChannel) {
        let s = channel.state
        server.log.info("channel \(channel.id): linked=\(s.linked) connected=\(s.connected)"
            + (s.lastError.map { " (\($0))" } ?? ""), fields: [("OPENCLAW_CHANNEL", channel.id)])
        server.healthDidChange()
    }

    func channel(_ id: String) -> MessageChannel? {
        entries.first { $0.channel.id == id }?.channel
    }

    var configuredIDs: [String] { entries.map(\.channel.id) }

    /// The channel `send` uses when the caller names none: the first linked one,
    /// else the first configured (whose error then explains why it cannot send).
    var defaultChannel: MessageChannel? {
        // By index: `first(where:)` would copy whole entries (their spec) on every `health`.
        if let linked = entries.firstIndex(where: { $0.channel.state.linked }) { return entries[linked].channel }
        return entries.isEmpty ? nil : entries[0].channel
    }

    func statusMap() -> JSONValue {
        let now = EventLoop.wallClockMs()
        return .object(JSONObject(entries.map { (key: $0.channel.id, value: $0.channel.state.json(nowMs: now)) }))
    }

    /// `statusMap()` written typed (`health` writes it into every answer); no clock read without channels.
    func writeStatusMap(into w: inout JSONByteWriter) {
        w.beginObject()
        if !entries.isEmpty {
            let now = EventLoop.wallClockMs()
            for entry in entries {
                w.escapedKey(entry.channel.id)
                w.value(entry.channel.state.json(nowMs: now))
            }
        }
        w.endObject()
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

    /// Each configured channel's link state, in config order (`/metrics`, `/readyz`).
    func linkStates() -> [(id: String, label: String, linked: Bool, connected: Bool)] {
        entries.map { ($0.channel.id, $0.channel.label, $0.channel.state.linked, $0.channel.state.connected) }
    }

    /// False while any configured channel is not linked (O2: `health.ok`).
    var isHealthy: Bool {
        entries.allSatisfy { $0.channel.state.linked }
    }
}
