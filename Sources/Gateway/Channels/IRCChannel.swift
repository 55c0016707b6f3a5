import Glibc
import JSONCore
import NetIO

/// The IRC channel: one TCP connection on the loop, driven by `IRCSession`.
///
/// `linked` means registered (001 received) and `connected` means the TCP link
/// is up. A lost link reconnects with exponential backoff (±20 % jitter). Every
/// `send` is split into PRIVMSG lines, paced by a token bucket, and followed by
/// `PING :oc-<n>`: servers handle a client's lines in order, so the matching
/// PONG proves the server processed every line (or told us why not with a
/// 401/404 first). That PONG is what `deliveredAt` means. The sends themselves
/// (queue, pacing, bounds, acks) are `IRCOutbox`'s; this class keeps the link.
final class IRCChannel: MessageChannel {
    let id = "irc"
    let label: String
    private(set) var state = ChannelState()
    var onStateChange: (() -> Void)?
    var onInbound: ((InboundMessage) -> Void)?

    private unowned let loop: EventLoop
    private let log: GatewayLog
    private var config: IRCConfig

    private var running = false
    private var connectingFD: Int32?
    private var stream: StreamChannel?
    private var lingering: StreamChannel?
    private var session: IRCSession?
    private var framer = IRCLineFramer()
    private var backoffMs: Int64
    private var reconnectTimer: TimerID?
    private var connectTimer: TimerID?
    private var keepaliveTimer: TimerID?
    private var lastInboundMs: Int64 = 0
    private var lastNickRegainMs: Int64 = 0
    private var keepalivePending = false

    /// The sends: paced, bounded and acknowledged there; the link only carries their lines.
    private lazy var outbox = IRCOutbox(
        loop: loop, floodBurst: config.floodBurst, floodIntervalMs: config.floodIntervalMs,
        write: { [unowned self] bytes in self.stream?.write(bytes) ?? false },
        linkLost: { [unowned self] reason in self.connectionLost(reason) })

    init(loop: EventLoop, log: GatewayLog, config: IRCConfig) {
        self.loop = loop
        self.log = log
        self.config = config
        label = "IRC \(config.session.nick)@\(config.server):\(config.port)"
        backoffMs = config.reconnectMinMs
    }

    private var logFields: [(String, String)] { [("OPENCLAW_CHANNEL", id)] }

    func admit(_ spec: ChannelSpec) {
        guard case .irc(let new) = spec else { return }
        config.allowFrom = new.allowFrom
    }

    // MARK: link lifecycle

    func link() {
        guard !running else { return }
        running = true
        connect()
    }

    /// How long the QUIT may take to flush before the socket is closed anyway
    /// (a stalled server must not hold the old connection, or its replacement, forever).
    static let lingerMs: Int64 = 2_000

    func unlink(whenGone: @escaping () -> Void) {
        guard running else { return whenGone() }
        running = false
        if let t = reconnectTimer { loop.cancel(t); reconnectTimer = nil }
        if let stream, !stream.isClosed {
            stream.write(IRCMessage("QUIT", ["gateway stopping"]).serialized())
            stream.closeAfterFlush()
        }
        dropConnection(reason: "stopped")
        guard let lingering else { return whenGone() }
        let deadline = loop.schedule(afterMs: Self.lingerMs) { lingering.close() }
        lingering.onClose = { [unowned self] _ in
            self.loop.cancel(deadline)
            self.lingering = nil
            whenGone()
        }
    }

    /// Counts connect attempts, so a lookup that answers after its attempt was abandoned
    /// (unlinked, or timed out and retried) is ignored.
    private var attempt: UInt64 = 0

    private func connect() {
        reconnectTimer = nil
        state.nextAttemptMs = nil
        guard running else { return }
        attempt += 1
        let thisAttempt = attempt
        // Resolved off the loop; the connect timeout covers the lookup too.
        connectTimer = loop.schedule(afterMs: 10_000) { [unowned self] in
            self.connectTimer = nil
            self.attempt += 1
            self.connectionFailed("connect to \(self.config.server):\(self.config.port) timed out")
        }
        HostResolver.resolve(config.server, on: loop) { [weak self] result in
            guard let self, self.running, self.attempt == thisAttempt else { return }
            switch result {
            case .success(let address): self.connect(to: address)
            case .failure(let error): self.connectionFailed(error.description)
            }
        }
    }

    private func connect(to address: String) {
        let fd: Int32
        do {
            fd = try Sockets.connectTCP(host: address, port: config.port)
            try loop.register(fd: fd, readable: false, writable: true) { [unowned self] _ in
                self.connectFinished(fd)
            }
        } catch {
            connectionFailed("\(error)")
            return
        }
        connectingFD = fd
    }

    private func connectFinished(_ fd: Int32) {
        guard connectingFD == fd else { return }
        loop.unregister(fd: fd)
        connectingFD = nil
        if let t = connectTimer { loop.cancel(t); connectTimer = nil }
        let err = Sockets.pendingError(fd)
        guard err == 0 else {
            close(fd)
            connectionFailed("connect to \(config.server):\(config.port): \(String(cString: strerror(err)))")
            return
        }
        let channel: StreamChannel
        do {
            channel = try StreamChannel(loop: loop, fd: fd, maxBufferedBytes: 1 << 20)
        } catch {
            close(fd)
            connectionFailed("\(error)")
            return
        }
        Sockets.setNoDelay(fd)
        stream = channel
        framer = IRCLineFramer()
        channel.onRead = { [unowned self] bytes in self.received(bytes) }
        channel.onClose = { [unowned self] code in
            self.connectionLost(code == 0 ? "connection closed by the server" : String(cString: strerror(code)))
        }
        setState(connected: true, linked: false)
        lastInboundMs = EventLoop.nowMs()
        keepalivePending = false
        keepaliveTimer = loop.scheduleRepeating(everyMs: max(1000, config.pingIntervalMs / 3)) { [unowned self] in
            self.keepalive()
        }
        var s = IRCSession(config: config.session)
        let outputs = s.start()
        session = s
        apply(outputs)
        log.info("IRC connected to \(config.server):\(config.port), registering as \(config.session.nick)", fields: logFields)
    }

    /// Registration is bounded (30 s or `pingIntervalMs`); after that, silence for
    /// `pingIntervalMs` earns a PING and the same again without an answer drops the link.
    private func keepalive() {
        guard stream != nil else { return }
        let idle = EventLoop.nowMs() - lastInboundMs
        if session?.isRegistered != true && idle > max(30_000, config.pingIntervalMs) {
            connectionLost("registration timed out")
        } else if idle > 2 * config.pingIntervalMs && keepalivePending {
            connectionLost("ping timeout (\(idle / 1000) s without data from the server)")
        } else if idle > config.pingIntervalMs && !keepalivePending {
            keepalivePending = true
            writeNow(IRCMessage("PING", ["oc-keepalive"]))
        }
        // Registered under an alternate (the nick was taken, often by our own ghost): ask for it back now and then.
        let now = EventLoop.nowMs()
        if let s = session, s.isRegistered, s.nick != config.session.nick, now - lastNickRegainMs >= 30_000 {
            lastNickRegainMs = now
            writeNow(IRCMessage("NICK", [config.session.nick]))
        }
    }

    private func connectionFailed(_ reason: String) {
        if let fd = connectingFD {
            loop.unregister(fd: fd)
            close(fd)
            connectingFD = nil
        }
        connectionLost(reason)
    }

    private func connectionLost(_ reason: String) {
        guard running else { return }
        state.lastError = reason
        let wasLinked = state.linked
        dropConnection(reason: reason)
        if wasLinked { log.warning("IRC link lost: \(reason)", fields: logFields) }
        else { log.info("IRC connect attempt failed: \(reason)", fields: logFields) }
        scheduleReconnect()
    }

    /// Closes the socket and fails what was in flight: sends that had not
    /// written a byte are retryable, the others are in doubt.
    private func dropConnection(reason: String) {
        if let t = connectTimer { loop.cancel(t); connectTimer = nil }
        if let t = keepaliveTimer { loop.cancel(t); keepaliveTimer = nil }
        if let fd = connectingFD {
            loop.unregister(fd: fd)
            close(fd)
            connectingFD = nil
        }
        if let s = stream {
            stream = nil
            s.onClose = nil
            if running {
                s.close()
            } else if !s.isClosed {
                // Unlinking: the QUIT is still flushing; `unlink` watches it close.
                lingering = s
            }
        }
        session = nil
        outbox.failAll(reason: reason)
        setState(connected: false, linked: false)
    }

    private func scheduleReconnect() {
        guard running, reconnectTimer == nil else { return }
        let jitter = Double.random(in: 0.8...1.2)
        let delay = Int64(Double(backoffMs) * jitter)
        backoffMs = min(config.reconnectMaxMs, backoffMs * 2)
        state.nextAttemptMs = EventLoop.wallClockMs() + delay
        reconnectTimer = loop.schedule(afterMs: delay) { [unowned self] in self.connect() }
    }

    private func setState(connected: Bool, linked: Bool) {
        guard state.connected != connected || state.linked != linked else { return }
        let now = EventLoop.wallClockMs()
        state.connected = connected
        if linked && !state.linked { state.linkedAtMs = now }
        if !linked { state.linkedAtMs = nil }
        state.linked = linked
        state.sinceMs = now
        onStateChange?()
    }

    // MARK: inbound

    private func received(_ bytes: UnsafeRawBufferPointer) {
        lastInboundMs = EventLoop.nowMs()
        keepalivePending = false
        for message in framer.feed(bytes) {
            guard var s = session else { return }
            let outputs = s.handle(message)
            session = s
            outbox.noteRejection(message)
            apply(outputs)
        }
    }

    private func apply(_ outputs: [IRCSession.Output]) {
        for output in outputs {
            switch output {
            case .send(let m):
                writeNow(m)
            case .registered(let nick):
                backoffMs = config.reconnectMinMs
                state.refused = false
                state.lastError = nil
                setState(connected: true, linked: true)
                log.info("IRC registered as \(nick) on \(config.server):\(config.port)", fields: logFields)
            case .inbound(let from, let target, let text, let isAction):
                var message = InboundMessage(channel: id, from: from, to: target, isGroup: IRCConfig.isChannelName(target),
                                             text: text, isAction: isAction, tsMs: EventLoop.wallClockMs())
                if !isAction {
                    let nicks = [session?.nick ?? config.session.nick, config.session.nick]
                    message.addressedText = message.isGroup ? IRCConfig.addressedText(text, nicks: nicks) : text
                }
                message.refusal = config.refusal(for: from)
                onInbound?(message)
            case .ack(let token):
                outbox.acknowledged(token)
            case .refused(let reason):
                state.refused = true
                state.lastError = "IRC server refused the link: \(reason)"
                log.error(state.lastError!, fields: logFields)
                backoffMs = config.reconnectMaxMs
                connectionLost(state.lastError!)
            case .serverError(let reason):
                state.lastError = "IRC server: \(reason)"
            case .kicked(let channel, let by, let reason):
                rejoinAfterKick(channel, by: by, reason: reason)
            }
        }
    }

    private var kickBackoff = KickBackoff()

    private func rejoinAfterKick(_ channel: String, by: String, reason: String) {
        let delay = kickBackoff.nextDelay(channel: channel, nowMs: EventLoop.nowMs())
        log.warning("IRC: kicked from \(channel) by \(by)\(reason.isEmpty ? "" : " (\(reason))"); rejoining in \(delay / 1000) s",
                    fields: logFields)
        let link = stream
        loop.schedule(afterMs: delay) { [weak self] in
            // Only on the same link: a reconnect joins the configured channels anyway.
            guard let self, let link, self.stream === link, self.session?.joined.contains(channel.lowercased()) == false else { return }
            self.writeNow(IRCMessage("JOIN", [channel]))
        }
    }

    // MARK: outbound

    /// One nick or one channel, validated by bytes and sent exactly as validated;
    /// channels only among `channels.irc.channels`, the ones the gateway joins.
    func targetProblem(_ to: String) -> String? {
        guard IRCConfig.isValidTarget(to) else {
            let shown = to.utf8.count > 64 ? String(decoding: to.utf8.prefix(64), as: UTF8.self) + "…" : to
            return "to: \(JSONValue.string(shown).jsonString) is not one IRC nick or channel (e.g. \"#ops\" or \"alice\"; "
                + "at most \(IRCConfig.maxTargetBytes) bytes, no spaces, commas or control characters)"
        }
        if IRCConfig.isChannelName(to) && !config.session.channels.contains(where: { $0.lowercased() == to.lowercased() }) {
            return "to: \(to) is not in channels.irc.channels: the gateway joins and sends to the configured channels "
                + "only (add it there and reload)"
        }
        return nil
    }

    func send(_ message: OutboundMessage, willWrite: @escaping () -> Bool,
              completion: @escaping (Result<Delivery, ChannelSendError>) -> Void) {
        if let problem = targetProblem(message.to) {
            completion(.failure(.invalidTarget(problem)))
            return
        }
        guard state.linked, let s = session, stream != nil else {
            if state.refused {
                completion(.failure(.notLinked(state.lastError ?? "the IRC server refused the link")))
            } else {
                let after = state.nextAttemptMs.map { max(0, $0 - EventLoop.wallClockMs()) }
                completion(.failure(.unavailable("IRC channel is not connected" + (state.lastError.map { " (\($0))" } ?? "")
                    + "; the gateway keeps reconnecting", retryAfterMs: after)))
            }
            return
        }
        let lines = IRCTextSplitter.split(message.text, budget: IRCTextSplitter.textBudget(
            target: message.to, nick: s.nick, userHost: s.userHost))
        guard !lines.isEmpty else {
            completion(.failure(.invalidMessage("message: nothing to send (empty text)")))
            return
        }
        // Unjoined channels usually refuse outside messages (+n): join first.
        if IRCConfig.isChannelName(message.to) && !s.joined.contains(message.to.lowercased()) {
            writeNow(IRCMessage("JOIN", [message.to]))
        }
        if let refusal = outbox.refusal(adding: lines.count + 1, sender: message.sender) {
            completion(.failure(refusal))
            return
        }
        outbox.enqueue(to: message.to, privmsgs: lines.map { IRCMessage("PRIVMSG", [message.to, $0]).serialized() },
                       sender: message.sender, willWrite: willWrite, completion: completion)
    }

    /// Protocol replies (PONG, NICK, JOIN) skip the flood queue: delaying them behind a backlog could get us dropped.
    private func writeNow(_ m: IRCMessage) {
        guard let stream else { return }
        if !stream.write(m.serialized()) { connectionLost("output buffer full") }
    }
}
