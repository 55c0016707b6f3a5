import Glibc
import OpenClawConfig
import SystemdKit

/// The logic behind `openclaw gateway install|uninstall|start|stop|restart|status`
/// and `openclaw doctor`, for one target. Every command talks to systemd over
/// sd-bus (RUNBOOK U4) and returns a structured result the CLI prints.
public final class GatewayService {
    public let target: ServiceTarget
    let environment: [String: String]
    let prober: any GatewayProbing
    let facts: HostFacts
    private var cachedManager: SystemdManager?

    public init(target: ServiceTarget, environment: [String: String], prober: any GatewayProbing) {
        self.target = target
        self.environment = environment
        self.prober = prober
        facts = HostFacts.current(environment: environment)
    }

    // MARK: systemd access

    /// The manager for the target's scope; "no manager" becomes one sentence with the way out.
    func manager() throws(ServiceError) -> SystemdManager {
        if let cachedManager { return cachedManager }
        do {
            let bus = try target.kind == .user ? Bus.user() : Bus.system()
            let manager = SystemdManager(bus: bus)
            cachedManager = manager
            return manager
        } catch {
            throw translate(error)
        }
    }

    func translate(_ error: SystemdError) -> ServiceError {
        if error.isManagerUnavailable { return .managerUnavailable(target.kind, facts.explainUnavailable(target.kind)) }
        // polkit refuses an unprivileged caller's job or unit-file change on the system manager.
        let denied = error.errno == EPERM || error.errno == EACCES
            || error.busErrorName == "org.freedesktop.DBus.Error.AccessDenied"
            || error.busErrorName == "org.freedesktop.DBus.Error.InteractiveAuthorizationRequired"
        if target.kind == .system, !facts.isRoot, denied {
            return .managerUnavailable(.system, "`--system` acts on the system manager and needs root: run the "
                + "command again with sudo, or leave out --system for your own user gateway")
        }
        return .systemd(error)
    }

    /// Runs a manager call, translating its errors.
    func withManager<T>(_ body: (SystemdManager) throws(SystemdError) -> T) throws(ServiceError) -> T {
        let manager = try manager()
        do { return try body(manager) } catch { throw translate(error) }
    }

    /// The profile's settings, with the secret a client would present. Root reads another account's
    /// config and token file as that account (`UserFiles`): through a `gateway.token -> /etc/shadow`
    /// the user planted, root once read, and then sent to the port the user's config names, a file
    /// only root may read. A symlinked state dir or token file is refused, naming it.
    func settings(port: Int? = nil, bind: String? = nil) throws(ServiceError) -> GatewaySettings {
        try UserFiles(target).access { () throws(ServiceError) in
            do throws(ConfigError) {
                return try ConfigLoader.load(paths: target.paths, environment: environment, port: port, bind: bind)
            } catch {
                throw .config(error)
            }
        }
    }

    enum JobVerb { case start, stop, restart, reload }

    /// Runs one job and insists on "done".
    func job(_ verb: JobVerb, _ unit: String, timeoutMs: Int) throws(ServiceError) {
        let result = try withManager { (m) throws(SystemdError) -> String in
            switch verb {
            case .start: try m.startUnit(unit, timeoutMs: timeoutMs)
            case .stop: try m.stopUnit(unit, timeoutMs: timeoutMs)
            case .restart: try m.restartUnit(unit, timeoutMs: timeoutMs)
            case .reload: try m.reloadUnit(unit, timeoutMs: timeoutMs)
            }
        }
        if result != "done" { throw failed(unit, result: result) }
    }

    /// A failed job with its cause read from the units and the journal (only on this error path).
    func failed(_ unit: String, result: String) -> ServiceError {
        .jobFailed(unit: unit, result: result, cause: failureCause(port: (try? settings())?.port),
                   status: target.command("gateway status"))
    }

    // MARK: start / stop / restart (S14)

    public struct LifecycleResult: Sendable {
        /// Units acted on, in order.
        public var units: [String]
        /// The probe after start/restart (nil after stop).
        public var probe: ProbeResult?
    }

    /// Starts the socket and the service, then waits until the gateway answers.
    public func start(timeoutMs: Int = 30_000) throws(ServiceError) -> LifecycleResult {
        try requireInstalled()
        // A crash loop leaves the start rate limit hit; a deliberate start clears it.
        _ = try? withManager { (m) throws(SystemdError) in
            try m.resetFailedUnit(target.socketUnit)
            try m.resetFailedUnit(target.serviceUnit)
        }
        try job(.start, target.socketUnit, timeoutMs: timeoutMs)
        try job(.start, target.serviceUnit, timeoutMs: timeoutMs)
        return LifecycleResult(units: [target.socketUnit, target.serviceUnit],
                               probe: try waitUntilAnswering(timeoutMs: timeoutMs))
    }

    /// Stops the service and its socket (a listening socket would start it
    /// again on the next connection); returns once both are inactive.
    public func stop(timeoutMs: Int = 30_000) throws(ServiceError) -> LifecycleResult {
        try requireInstalled()
        try job(.stop, target.socketUnit, timeoutMs: timeoutMs)
        try job(.stop, target.serviceUnit, timeoutMs: timeoutMs)
        return LifecycleResult(units: [target.socketUnit, target.serviceUnit], probe: nil)
    }

    /// Restarts through systemd only (PITFALLS: no second supervisor) and
    /// returns once the new instance answers hello-ok.
    /// `verify: false` leaves the hello-ok check to a caller that knows the new secret.
    public func restart(timeoutMs: Int = 30_000, verify: Bool = true) throws(ServiceError) -> LifecycleResult {
        try requireInstalled()
        _ = try? withManager { (m) throws(SystemdError) in try m.resetFailedUnit(target.serviceUnit) }
        try job(.start, target.socketUnit, timeoutMs: timeoutMs)
        try job(.restart, target.serviceUnit, timeoutMs: timeoutMs)
        return LifecycleResult(units: [target.serviceUnit],
                               probe: verify ? try waitUntilAnswering(timeoutMs: timeoutMs) : nil)
    }

    func requireInstalled() throws(ServiceError) {
        let unit = try withManager { (m) throws(SystemdError) in try m.unit(target.serviceUnit) }
        if unit == nil { throw .notInstalled(unit: target.serviceUnit, install: target.command("gateway install")) }
    }

    // MARK: readiness

    /// Probes until hello-ok or the deadline: start-up time varies (PITFALLS:
    /// no fixed sleep), and the first connection is what activates the service.
    func waitUntilAnswering(timeoutMs: Int) throws(ServiceError) -> ProbeResult {
        let settings = presented(try settings(), credentialPath: credentialPath())
        let url = installedProbeURL(settings)
        let deadline = monotonicMs() + timeoutMs
        while true {
            let remaining = deadline - monotonicMs()
            let last = probe(settings, url: url, timeoutMs: max(200, min(remaining, 5_000)))
            // A refusal and another gateway's hello-ok are definite answers: waiting will not change them.
            if let code = last.authRefusal { throw .authRefused(url: last.url, code: code) }
            if last.ok, let identity = last.identity,
               let why = identity.mismatch(target: target, installed: true, mainPID: nil,
                                           currentMainPID: { self.currentMainPID() }) {
                throw .otherGateway(url: last.url, OtherGateway(
                    identity: identity, reason: why, unit: identity.pid.flatMap(GatewayIdentity.unit(ofPID:))))
            }
            if last.ok { return last }
            if remaining <= 0 { throw .notReady(url: last.url, error: last.error ?? "no answer") }
            // Stop waiting early when systemd gave up on the service, or when its start failed and
            // systemd only waits to try again (RestartSec=): the same start fails the same way.
            if let state = try? withManager({ (m) throws(SystemdError) in try m.unit(target.serviceUnit) }),
               state.activeState == "failed" || (state.subState == "auto-restart" && state.result != "success") {
                throw failed(target.serviceUnit, result: state.result)
            }
            usleep(100_000)
        }
    }

    /// Where the installed service answers (S1): the socket unit's first
    /// stream address, which wins over the config file (`install --port`
    /// or a stale config would otherwise send the probe elsewhere).
    func installedProbeURL(_ settings: GatewaySettings) -> String {
        let socket = try? withManager { (m) throws(SystemdError) in try m.unit(target.socketUnit) }
        guard let address = socket?.listen.first(where: { $0.type == "Stream" })?.address else {
            return settings.clientURL
        }
        return Self.probeURL(listenAddress: address)
    }

    /// "127.0.0.1:18789" → ws://127.0.0.1:18789; wildcards are reached through loopback.
    static func probeURL(listenAddress address: String) -> String {
        guard let colon = address.lastIndex(of: ":"), let port = Int(address[address.index(after: colon)...]) else {
            return "ws://" + address
        }
        var host = address[..<colon]
        if host.hasPrefix("[") && host.hasSuffix("]") { host = host.dropFirst().dropLast() }
        return GatewaySettings.clientURL(bind: String(host), port: port)
    }

    func probe(_ settings: GatewaySettings, url: String? = nil, timeoutMs: Int = 3_000) -> ProbeResult {
        prober.probe(url: url ?? settings.clientURL, token: settings.token, password: settings.password,
                     timeoutMs: timeoutMs)
    }
}

func monotonicMs() -> Int {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return ts.tv_sec * 1000 + ts.tv_nsec / 1_000_000
}
