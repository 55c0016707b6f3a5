import Glibc
import GatewayProtocol
import NetIO
import OpenClawConfig
import SystemdKit

/// Flags of `openclaw gateway`.
public struct GatewayOptions: Sendable {
    public var profile: String?
    public var port: Int?
    public var bind: String?
    public var verbose: Bool

    public init(profile: String? = nil, port: Int? = nil, bind: String? = nil, verbose: Bool = false) {
        self.profile = profile
        self.port = port
        self.bind = bind
        self.verbose = verbose
    }
}

/// Runs the gateway in the foreground until SIGTERM/SIGINT; returns the exit code.
public enum GatewayDaemon {
    public static func run(options: GatewayOptions, environment: [String: String] = ProcessEnvironment.current()) -> Int32 {
        // Client sockets a previous instance handed over (fd store): closed with 1012 when
        // this start fails, never left hanging.
        var handedOver: [ActivatedSocket] = []
        func fail(_ kind: String, _ message: String, config: ConfigError? = nil) -> Int32 {
            HandoverStore.abandon(handedOver, reason: "gateway failed to start")
            return FatalLog(kind, message, profile: options.profile ?? "default", config: config).emit(environment: environment)
        }
        // Before anything else (and before any thread exists): take the activated
        // sockets, which also unsets LISTEN_* so children never inherit them.
        let activated: [ActivatedSocket]
        do {
            let descriptors = try SocketActivation.takeDescriptors(storedNames: HandoverStore.names)
            activated = descriptors.listeners
            handedOver = descriptors.stored
        } catch {
            return fail("socket", "socket activation: \(error)")
        }
        signal(SIGPIPE, SIG_IGN)

        let settings: GatewaySettings
        let stateWarnings: [String]
        do {
            let paths = try OpenClawPaths.resolve(profile: options.profile, environment: environment)
            stateWarnings = try StateDirCheck.run(paths)
            settings = try ConfigLoader.load(paths: paths, environment: environment, port: options.port, bind: options.bind)
        } catch {
            return fail("config", "configuration: \(error)", config: error)
        }
        do { try settings.requireConfiguredSecret() } catch {
            return fail("credential", "configuration: \(error)", config: error)
        }
        // One gateway per profile: before any socket is served or state is touched. Held for the
        // life of the process (the kernel releases it when we exit, however we exit).
        var lock: StateLock?
        var lockWarning: String?
        do {
            lock = try StateLock.acquire(try ensureDirectory(settings.paths.stateDir) + "/gateway.lock")
        } catch {
            switch error {
            case .system(let path, let code) where code == EROFS || code == EACCES:
                // A state dir that cannot be written starts degraded (the ledger refuses sends until it
                // recovers); a second gateway could not write to it either.
                lockWarning = "cannot create \(path) (\(String(cString: strerror(code)))): a second gateway of this "
                    + "profile would not be refused"
            case .held(_, let pid):
                return fail("lock", "another gateway of profile \(settings.paths.profileLabel) is running"
                    + (pid.map { " (pid \($0))" } ?? "") + " with state directory \(settings.paths.stateDir): stop it "
                    + "(`openclaw gateway stop`, or end that process), or run this one with another --profile")
            case .system(let path, let code):
                return fail("lock", "cannot lock \(path): \(String(cString: strerror(code)))")
            }
        }
        defer { withExtendedLifetime(lock) {} }
        let log = GatewayLog(verbose: options.verbose, profile: settings.paths.profileLabel, instance: randomHex(6),
                             environment: environment)
        if let lockWarning { log.warning(lockWarning) }
        let descriptors = DescriptorLimit.raiseSoftToHard()
        if descriptors.soft < 4096 {
            log.warning("only \(descriptors.soft) file descriptors allowed (hard limit \(descriptors.hard)): clients beyond that wait; raise LimitNOFILE= in the unit or `ulimit -Hn`")
        }
        stateWarnings.forEach { log.warning($0) }

        var listeners: [GatewayServer.Listener] = []
        let activation: String
        if activated.isEmpty {
            activation = "self"
            if !settings.isLoopbackBind && settings.secret == nil {
                return fail("bind", "refusing to listen on \(settings.bind) without auth: set a token (OPENCLAW_GATEWAY_TOKEN or gateway.auth.token in \(settings.paths.configPath)) or bind to 127.0.0.1")
            }
            do {
                let fd = try Sockets.listenTCP(host: settings.bind, port: settings.port)
                listeners.append(.init(fd: fd, address: Sockets.localAddress(fd)))
            } catch {
                if error.errno == EADDRINUSE {
                    return fail("bind", "port \(settings.port) on \(settings.bind) is already in use: another gateway may be running (check with `openclaw gateway status`), or choose another port with --port")
                }
                return fail("bind", "cannot listen on \(settings.bind):\(settings.port): \(error)")
            }
        } else {
            activation = "socket"
            // Prefer sockets named "gateway" (FileDescriptorName=); otherwise serve all we were given.
            let named = activated.filter { $0.name == "gateway" }
            for socket in named.isEmpty ? activated : named {
                // systemd hands listening sockets over in blocking mode; accept must never block the loop.
                do { try Sockets.setNonBlocking(socket.fd) } catch { return fail("socket", "activated socket \(socket.fd): \(error)") }
                let address = Sockets.localAddress(socket.fd)
                if let host = address?.host, !GatewaySettings.isLoopback(host), settings.secret == nil {
                    return fail("bind", "refusing to serve the activated socket on \(host) without auth: set a token")
                }
                listeners.append(.init(fd: socket.fd, address: address))
            }
        }
        if settings.secret == nil {
            log.warning("no gateway token configured: loopback clients connect without auth")
        }

        let loop: EventLoop
        do {
            loop = try EventLoop()
        } catch {
            return fail("start-up", "event loop: \(error)")
        }
        let server = GatewayServer(loop: loop, settings: settings, log: log, listeners: listeners, activation: activation)
        do {
            server.channels = try ChannelRegistry(server: server)
            try Messaging.install(on: server)
        } catch {
            return fail("config", "configuration: \(error)", config: error)
        }
        do {
            try loop.onSignals([SIGTERM, SIGINT, SIGHUP]) { signal in
                if signal == SIGHUP {
                    server.reload(Result { () throws(ConfigError) -> GatewaySettings in
                        let paths = try OpenClawPaths.resolve(profile: options.profile, environment: environment)
                        let new = try ConfigLoader.load(paths: paths, environment: environment, port: options.port, bind: options.bind)
                        try new.requireConfiguredSecret()
                        return new
                    })
                } else {
                    server.shutdown(signal: signal)
                }
            }
            server.takeOver(handedOver)
            handedOver = []  // the server owns them now
            try server.start()
        } catch {
            return fail("start-up", "start-up: \(error)")
        }
        loop.run()
        log.notice("gateway stopped")
        return 0
    }

    /// The state directory, created 0700 when a gateway is first run by hand; its path.
    private static func ensureDirectory(_ path: String) throws(StateLock.Failure) -> String {
        if mkdir(path, 0o700) != 0 && errno != EEXIST { throw .system(path: path, errno: errno) }
        return path
    }
}
