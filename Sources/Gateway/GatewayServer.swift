import CLinux
import Glibc
import GatewayProtocol
import JSONCore
import NetIO
import OpenClawConfig
import SystemdKit
import WebSocketCodec

/// The running gateway: listeners, connections, presence and health state,
/// method dispatch and broadcast events, all on one event loop. The handshake
/// (`ConnectHandshake.swift`), presence (`Presence.swift`), event fan-out
/// (`Broadcast.swift`) and the core methods (`CoreMethods.swift`) are extensions
/// of it in their own files.
final class GatewayServer {
    let loop: EventLoop
    private(set) var settings: GatewaySettings
    let log: GatewayLog
    let activation: String
    let listeners: [Listener]
    var channels: ChannelRegistry!
    /// Sessions and transcripts (set up with messaging; `health` and `status` read it).
    var sessions: SessionStore!
    /// The upstream part of `health`, rebuilt only when what it shows changed (see `HealthTail`):
    /// nil until built and once a store was added or `healthDidChange` was called. Replaced whole,
    /// never changed in place, and read into a local before use: no access to it spans a call,
    /// so no runtime exclusivity check (it is read for every `health` request).
    @exclusivity(unchecked) var healthTail: HealthTail?
    /// Durable stores whose condition `health` and `status` report (see `StoreHealth`).
    var stores: [StoreHealth] = [] {
        didSet { healthTail = nil }
    }
    /// The agent section of `status` (runner, runs in flight with their units and usage).
    var agentStatus: (() -> JSONValue)?
    /// Every open socket by connection id, from accept (or take-over) until TCP closes or it is handed over.
    var connections: [String: Connection] = [:]
    /// Clients past hello-ok, in join order (see `Presence.swift`).
    var presence = PresenceRoster()
    /// Continued from the previous instance's after a take-over, so ids never repeat.
    var nextConnId: UInt64 = 1
    /// What this process took over from the previous instance (`status.handover`), if anything.
    var takeOverReport: TakeOverReport?
    /// A served method: its handler, and how its requests are admitted and counted. An object,
    /// so finding one hands out a single reference (a tuple with a closure in it is copied,
    /// and its parts retained, at every step of the lookup).
    private final class Method {
        let handler: (MethodCall) -> Void
        let metricIndex: Int
        let needsWrite: Bool

        init(_ name: String, _ handler: @escaping (MethodCall) -> Void) {
            self.handler = handler
            metricIndex = GatewayMetrics.methodIndex(name)
            needsWrite = Admission.neededScope(method: name) == "operator.write"
        }
    }
    private var methods: [String: Method] = [:]
    /// The method dispatched last: clients repeat one (a monitor polling `health`), and
    /// comparing a short name costs far less than hashing it for the table. Two properties,
    /// not an optional tuple: reading a tuple copies (and retains) it whole, twice per request.
    private var lastMethodName = ""
    private var lastMethod: Method?
    /// Counters for `/metrics`, bumped on the loop thread. Every access is a short update on
    /// that one thread and none can overlap another, so the per-access runtime exclusivity
    /// check (a measurable share of a `health` request under callgrind) is skipped.
    @exclusivity(unchecked) var metrics = GatewayMetrics()
    var authGuard: AuthGuard
    private(set) var originPolicy: OriginPolicy
    /// Bumped by presence and health changes; sent with their events and in hello-ok.
    var stateVersion = StateVersion()
    private(set) var isReady = false
    private var stopping = false
    var isStopping: Bool { stopping }
    var openConnectionCount: Int { connections.count }
    var clientCount: Int { presence.count }
    private var tickTimer: TimerID?
    private var statusDirty = false
    let startedWallMs = EventLoop.wallClockMs()
    let startedMonoMs = EventLoop.nowMs()
    let hostname: String
    let watchdogUsec: UInt64?
    var lastError: String?
    /// The outcome of the last SIGHUP, for `openclaw gateway reload`: systemd's reload job ends when
    /// `kill -HUP` returns, so the CLI waits for `count` to move in `status` and reports `error`.
    private(set) var lastReload = ReloadRecord()
    lazy var logReader = LogTail(log: log, profile: settings.paths.profileLabel)

    struct Listener {
        let fd: Int32
        let address: SocketAddress?
    }

    init(loop: EventLoop, settings: GatewaySettings, log: GatewayLog, listeners: [Listener], activation: String) {
        self.loop = loop
        self.settings = settings
        self.log = log
        self.listeners = listeners
        self.activation = activation
        self.authGuard = AuthGuard(failuresPerMinute: settings.authFailuresPerMinute)
        self.pending = PendingConnections(limit: settings.maxPendingConnections)
        loop.outputBudget = settings.outputBudgetBytes
        var name = [CChar](repeating: 0, count: 256)
        gethostname(&name, 255)
        hostname = String(decoding: name.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
        originPolicy = OriginPolicy(settings: settings, hostname: hostname)
        watchdogUsec = ServiceNotifier.watchdogInterval()
        registerCoreMethods()
    }

    var uptimeMs: Int64 { EventLoop.nowMs() - startedMonoMs }

    /// The address people and probes use ("127.0.0.1:18789").
    var listenDescription: String {
        listeners.compactMap { $0.address?.description }.joined(separator: ", ")
    }

    // MARK: lifecycle

    func start() throws(SystemCallError) {
        for listener in listeners {
            try loop.register(fd: listener.fd) { [unowned self] _ in self.acceptAll(listener.fd) }
        }
        channels.start()
        tickTimer = loop.scheduleRepeating(everyMs: Int64(settings.tickIntervalMs)) { [unowned self] in self.tick() }
        // Memory freed after a burst (fan-out, slow consumers) goes back to the system
        // instead of staying in malloc's free lists for the life of the process.
        loop.scheduleRepeating(everyMs: 5_000) { malloc_trim(0) }
        if let watchdogUsec {
            // Pinged from the loop itself: if the loop hangs, the pings stop and systemd acts.
            loop.scheduleRepeating(everyMs: max(1, Int64(watchdogUsec / 2000))) { ServiceNotifier.watchdogPing() }
        }
        isReady = true
        ServiceNotifier.ready(status: statusLine)
        log.notice("gateway ready on \(listenDescription) (\(activation) activation, auth \(effectiveAuthMode.rawValue))",
                   fields: [("OPENCLAW_ACTIVATION", activation)])
    }

    var statusLine: String {
        let n = presence.count
        return "serving \(n) client\(n == 1 ? "" : "s") on \(listenDescription)"
    }

    /// Coalesces STATUS= updates so bursts of connects cost one notify.
    func statusChanged() {
        guard !statusDirty else { return }
        statusDirty = true
        loop.schedule(afterMs: 200) { [unowned self] in
            self.statusDirty = false
            if !self.stopping { ServiceNotifier.status(self.statusLine) }
        }
    }

    private func acceptAll(_ listener: Int32) {
        guard !stopping else { return }
        for _ in 0..<64 {
            let fd: Int32
            switch Sockets.accept(listener) {
            case .accepted(let accepted):
                fd = accepted
            case .empty:
                return
            case .failed(let error):
                // Out of descriptors or memory: the level-triggered listener would spin the
                // loop at 100 % CPU. Stop watching it for a moment; queued clients wait in the backlog.
                acceptFailed(error)
                loop.modify(fd: listener, readable: false, writable: false)
                loop.schedule(afterMs: 250) { [unowned self] in
                    if !self.stopping { self.loop.modify(fd: listener, readable: true, writable: false) }
                }
                return
            }
            Sockets.setNoDelay(fd)
            let channel: StreamChannel
            do {
                channel = try StreamChannel(loop: loop, fd: fd, maxBufferedBytes: settings.maxBufferedBytes)
            } catch {
                close(fd)
                log.error("cannot watch accepted socket: \(error)")
                continue
            }
            let id = "c\(nextConnId)"
            nextConnId += 1
            metrics.connectionsAccepted &+= 1
            register(Connection(id: id, channel: channel, server: self))
        }
    }

    /// Tracks a connection until its socket closes: one just accepted, or one taken over
    /// from the previous instance (which may already be past hello-ok).
    func register(_ connection: Connection) {
        connections[connection.id] = connection
        if connection.isPending, let evicted = pending.admit(connection) { evictPending(evicted) }
        connection.channel.onClose = { [unowned self] _ in self.connectionClosed(connection.id) }
    }

    /// Accept retries every 250 ms while out of descriptors: one log line per
    /// `acceptErrorLogIntervalMs` (with the count since) says it without flooding the journal.
    private static let acceptErrorLogIntervalMs: Int64 = 10_000
    private var acceptErrorLoggedMs: Int64 = .min / 2
    private var acceptErrorsSinceLog = 0

    private func acceptFailed(_ error: SystemCallError) {
        lastError = "accept: \(error)"
        let now = EventLoop.nowMs()
        guard now - acceptErrorLoggedMs >= Self.acceptErrorLogIntervalMs else {
            acceptErrorsSinceLog += 1
            return
        }
        let repeats = acceptErrorsSinceLog > 0 ? " (\(acceptErrorsSinceLog) more failures since the last report)" : ""
        let hint = error.errno == EMFILE ? " (the open-file limit: raise LimitNOFILE= in the unit)" : ""
        log.error("cannot accept connections: \(error)\(hint); retrying every 250 ms\(repeats)",
                  fields: [("OPENCLAW_ERRNO", String(error.errno))])
        acceptErrorLoggedMs = now
        acceptErrorsSinceLog = 0
    }

    private var pending: PendingConnections
    private var pendingEvictedSinceLog = 0
    private var pendingEvictionLoggedMs: Int64 = .min / 2

    /// The cap on unauthenticated connections was reached: the oldest goes (logged at most every 10 s).
    private func evictPending(_ connection: Connection) {
        connection.close(.tryAgainLater, "too many unauthenticated connections")
        pendingEvictedSinceLog += 1
        let now = EventLoop.nowMs()
        guard now - pendingEvictionLoggedMs >= Self.acceptErrorLogIntervalMs else { return }
        log.warning("\(pendingEvictedSinceLog) unauthenticated connection(s) closed: more than \(pending.limit) "
                    + "(gateway.maxPendingConnections) had not completed the handshake", fields: connection.logFields)
        pendingEvictionLoggedMs = now
        pendingEvictedSinceLog = 0
    }

    /// A connection started closing: it leaves presence now, even before TCP closes.
    func connectionClosing(_ connection: Connection) {
        guard connection.client != nil, connections[connection.id] != nil, !connection.leftPresence else { return }
        leavePresence(connection)
    }

    private func connectionClosed(_ id: String) {
        guard let connection = connections.removeValue(forKey: id) else { return }
        if connection.client != nil && !connection.leftPresence { leavePresence(connection) }
        connection.released()
    }

    // MARK: handshake

    var effectiveAuthMode: AuthMode {
        settings.secret == nil ? .none : settings.auth
    }

    // MARK: output spill

    /// Where an answer too long for the JSON writer's stack buffer is gathered: one for all
    /// connections (the loop is single-threaded), kept between answers so a large hello-ok
    /// does not regrow an array each time. Swapped out and back around each frame on the
    /// loop's thread (a frame written while another is being written gets an empty one): no
    /// runtime exclusivity check.
    @exclusivity(unchecked) private var spill: [UInt8] = []

    /// `JSONByteWriter.encoding` with the shared spill buffer: `deliver` gets what `body` wrote.
    func encode(_ body: (inout JSONByteWriter) -> Void, then deliver: (Span<UInt8>) -> Void) {
        var buffer: [UInt8] = []
        swap(&buffer, &spill)
        JSONByteWriter.encoding(spillingInto: &buffer, body, then: deliver)
        if buffer.capacity <= 1 << 20 { swap(&buffer, &spill) }
    }

    // MARK: methods

    func registerMethod(_ name: String, _ handler: @escaping (MethodCall) -> Void) {
        methods[name] = Method(name, handler)
        lastMethodName = ""
        lastMethod = nil
    }

    /// Whether `method` is served (hello-ok lists those; messaging and agents register theirs later).
    func isRegistered(_ method: String) -> Bool { methods[method] != nil }

    /// Runs the handler of `method`, or answers why not. The request's parts are consumed: they
    /// move into the call without being copied.
    func dispatch(id: consuming String, method: consuming String, params: consuming JSONValue, connection: Connection) {
        let registered: Method?
        if method == lastMethodName, let last = lastMethod {
            registered = last
        } else {
            registered = methods[copy method]
            lastMethodName = registered == nil ? "" : copy method
            lastMethod = registered
        }
        let call = MethodCall(id: id, method: method, params: params, connection: connection,
                              metricIndex: registered?.metricIndex ?? GatewayMetrics.otherMethod)
        guard let registered else {
            if call.method == "connect" {
                call.fail(RPCError(.invalidRequest, "already connected"))
            } else {
                call.fail(RPCError(.invalidRequest, "unknown method: \(call.method)"))
            }
            return
        }
        guard registered.needsWrite ? connection.mayWrite : connection.mayRead else {
            let missing = Admission.neededScope(method: call.method)
            call.fail(RPCError(.forbidden, "missing scope: \(missing) (\(call.method) needs it; connect with it in scopes)",
                               details: ["code": "MISSING_SCOPE", "missingScope": .string(missing)]))
            return
        }
        log.debug("request", fields: [("OPENCLAW_CONN_ID", call.connId), ("OPENCLAW_METHOD", call.method)])
        registered.handler(call)
    }

    // MARK: reload and shutdown

    private static let reloadFailurePrefix = "reload failed: "

    /// SIGHUP: re-read the config; keep serving on the old one when the new one is broken.
    /// Channels and the agent backend are checked before anything changes, so a broken
    /// part of them fails the whole reload too.
    func reload(_ reloaded: Result<GatewaySettings, ConfigError>) {
        ServiceNotifier.reloading(status: "reloading configuration")
        let checked = reloaded.flatMap { new in
            Result { () throws(ConfigError) in (settings: new, applyChannelsAndAgent: try channels.prepareReload(new)) }
        }
        switch checked {
        case .success(let checked):
            var new = checked.settings
            if new.port != settings.port || new.bind != settings.bind {
                log.warning("bind/port changes need a restart; still listening on \(listenDescription)")
                new.port = settings.port
                new.bind = settings.bind
            }
            settings = new
            authGuard = AuthGuard(failuresPerMinute: new.authFailuresPerMinute)
            pending.limit = new.maxPendingConnections
            loop.outputBudget = new.outputBudgetBytes
            originPolicy = OriginPolicy(settings: new, hostname: hostname)
            if let tickTimer { loop.cancel(tickTimer) }
            tickTimer = loop.scheduleRepeating(everyMs: Int64(settings.tickIntervalMs)) { [unowned self] in self.tick() }
            checked.applyChannelsAndAgent()
            // A good reload supersedes a failed one: status must not keep reporting it.
            if lastError?.hasPrefix(Self.reloadFailurePrefix) == true { lastError = nil }
            log.notice("configuration reloaded from \(settings.paths.configPath)")
            lastReload.record(error: nil, atMs: EventLoop.wallClockMs())
        case .failure(let error):
            lastError = Self.reloadFailurePrefix + "\(error)"
            lastReload.record(error: error.description, atMs: EventLoop.wallClockMs())
            log.error("reload failed, keeping the previous configuration: \(error)")
        }
        ServiceNotifier.ready(status: statusLine)
    }

    /// SIGTERM/SIGINT: on a restart with room in systemd's fd store, hand every client to the next
    /// instance (`Handover/HandOver.swift`); otherwise tell every client, close them, wait (bounded)
    /// for the bytes to leave, then stop the loop.
    /// A restart is expected (1012, `restartExpectedMs`) only while the listening socket stays:
    /// socket-activated, systemd then starts us again on the next connection. `gateway stop`, a
    /// stop of the socket unit and a shutdown queue a stop job on the socket as well, so clients
    /// are told we are going away (1001), as they are when run by hand. When systemd cannot be
    /// asked in time, socket activation alone decides.
    func shutdown(signal: Int32) {
        guard !stopping else { return }
        stopping = true
        isReady = false
        let restartExpected = activation == "socket" && (OwnUnit.socketsStayListening() ?? true)
        for listener in listeners {
            loop.unregister(fd: listener.fd)
            close(listener.fd)
        }
        if restartExpected && handOverToNextInstance(signal: signal) { return }
        ServiceNotifier.stopping(status: "stopping: closing \(presence.count) client connection(s)")
        log.notice("shutting down on signal \(signal) (\(presence.count) clients)", fields: [("OPENCLAW_SIGNAL", String(signal))])
        var payload = JSONObject()
        payload["reason"] = .string(restartExpected ? "gateway restarting" : "gateway stopping")
        if restartExpected { payload["restartExpectedMs"] = .int(0) }
        broadcast(event: "shutdown", payload: .object(payload))
        channels.stop()
        let code: WebSocketCloseCode = restartExpected ? .serviceRestart : .goingAway
        for connection in connections.values {
            connection.close(code, restartExpected ? "service restart" : "going away")
        }
        drainThenStop()
    }

    /// Stops the loop once every connection has closed, or after `shutdownDrainMs`.
    func drainThenStop() {
        let deadline = EventLoop.nowMs() + Int64(settings.shutdownDrainMs)
        func check() {
            if connections.isEmpty || EventLoop.nowMs() >= deadline {
                loop.stop()
            } else {
                loop.schedule(afterMs: 20) { check() }
            }
        }
        check()
    }
}
