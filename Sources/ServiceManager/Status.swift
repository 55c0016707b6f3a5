import GatewayProtocol
import OpenClawConfig
import SystemdKit

public struct StatusOptions: Sendable {
    /// `--url ws://HOST:PORT`: probe there instead of the configured target (S1).
    public var url: String?
    /// false for `--no-probe` (S3).
    public var probe: Bool
    /// `--deep`: scan both managers for gateway-like units (S2, S9).
    public var deep: Bool
    public var probeTimeoutMs: Int

    public init(url: String? = nil, probe: Bool = true, deep: Bool = false, probeTimeoutMs: Int = 3_000) {
        self.url = url
        self.probe = probe
        self.deep = deep
        self.probeTimeoutMs = probeTimeoutMs
    }
}

/// `openclaw gateway status` exit codes (docs/status-json.md): scripts rely on them.
public enum StatusExit: Int32, Sendable {
    /// Running and answering hello-ok (or, with --no-probe, the socket or service is active).
    case running = 0
    /// Status itself could not be determined (no systemd manager, broken config).
    case error = 1
    /// No unit of this profile on the user or system manager, and nothing answers.
    case notInstalled = 3
    /// Installed, but neither the socket nor the service is active.
    case notRunning = 4
    /// Active according to systemd, but the gateway does not answer.
    case unreachable = 5
    /// A gateway answers on the unit's address, but it is not this unit's
    /// process (another profile, user or foreground run holds the port).
    case otherGateway = 6
    /// The gateway answers but refuses the secret this CLI presents.
    case authRefused = 7
}

/// The supervisor half of `status` (S5): the unit as systemd sees it.
public struct ServiceSection: Sendable {
    public var scope: ServiceKind
    public var unit: String
    public var socketUnit: String
    public var installed: Bool
    public var unitFilePath: String?
    public var loadState: String?
    /// "enabled", "disabled", …
    public var unitFileState: String?
    public var activeState: String?
    public var subState: String?
    public var mainPID: UInt32?
    /// When the service last became active, µs since the epoch.
    public var activeSinceUsec: UInt64?
    public var restarts: UInt32?
    /// "exited", "killed", "dumped" and the status or signal number of the last main process.
    public var lastExitCode: String?
    public var lastExitStatus: Int32?
    /// systemd's Result: "success", "exit-code", "watchdog", …
    public var result: String?
    public var statusText: String?
    public var socketActiveState: String?
    public var socketSubState: String?
    /// The socket's listen addresses, e.g. "127.0.0.1:18789".
    public var listen: [String]
    /// A unit file changed on disk but systemd has not reloaded it.
    public var needDaemonReload: Bool
    /// Set when the manager could not be asked; one sentence with the way out.
    public var error: String?
    /// The command that installs this profile on this manager, for hints (not in the JSON).
    public var installCommand: String
    /// The file the service's `LoadCredential=gateway-token:` names: the secret the gateway checks.
    public var credentialPath: String?

    public var isActive: Bool { activeState == "active" || activeState == "reloading" || socketActiveState == "active" }

    /// A unit file counts as installed when `install` wrote it, or when
    /// someone enabled or started it. The Debian package ships vendor units
    /// in /usr/lib/systemd that merely offer the service: disabled and
    /// inactive, they do not make it "installed" (else uninstall could never
    /// get back to exit code 3).
    static func countsAsInstalled(_ unit: UnitState, directory: String) -> Bool {
        guard !unit.fragmentPath.isEmpty else { return unit.activeState != "inactive" && !unit.activeState.isEmpty }
        return unit.fragmentPath.hasPrefix(directory + "/") || unit.unitFileState.hasPrefix("enabled")
            || unit.unitFileState.hasPrefix("linked") || (unit.activeState != "inactive" && !unit.activeState.isEmpty)
    }

    init(scope: ServiceKind, target: ServiceTarget, service: UnitState?, socket: UnitState?) {
        self.scope = scope
        unit = target.serviceUnit
        socketUnit = target.socketUnit
        installed = [service, socket].contains { $0.map { Self.countsAsInstalled($0, directory: target.unitDirectory) } ?? false }
        unitFilePath = service.map(\.fragmentPath).flatMap { $0.isEmpty ? nil : $0 }
        loadState = service?.loadState
        unitFileState = service?.unitFileState
        activeState = service?.activeState
        subState = service?.subState
        mainPID = service?.mainPID
        activeSinceUsec = service?.isActive == true ? service?.activeEnterTimestamp : nil
        restarts = service?.nRestarts
        switch service?.execMainCode {
        case 1: lastExitCode = "exited"
        case 2: lastExitCode = "killed"
        case 3: lastExitCode = "dumped"
        default: lastExitCode = nil
        }
        lastExitStatus = lastExitCode == nil ? nil : service?.execMainStatus
        result = service?.result
        // STATUS= outlives the process in systemd's memory: only a running service's text is current.
        statusText = service.flatMap { $0.statusText.isEmpty || !$0.isActive ? nil : $0.statusText }
        socketActiveState = socket?.activeState
        socketSubState = socket?.subState
        listen = socket?.listen.map(\.address) ?? []
        needDaemonReload = service?.needDaemonReload == true || socket?.needDaemonReload == true
        error = nil
        installCommand = target.command("gateway install")
        credentialPath = service?.loadCredentials["gateway-token"]
    }
}

public struct StatusReport: Sendable {
    /// Version of the JSON schema (docs/status-json.md); bumped only for additions.
    public static let schemaVersion = 4
    public var exitCode: StatusExit
    public var profile: String
    public var configPath: String
    public var configError: String?
    /// false when the config file does not exist (the gateway runs on defaults).
    public var configPresent = true
    /// With restarts: the manager's journal lines that explain the last one ("Failed with result 'watchdog'").
    public var lastRestart: String?
    /// The URL the probe used (or would use with --no-probe).
    public var probeTarget: String
    public var service: ServiceSection
    /// nil with --no-probe.
    public var rpc: ProbeResult?
    /// The gateway's last error line from the journal, when it is active but does not answer (S7).
    public var lastErrorLine: String?
    /// Set when whoever answered the probe is not this unit's gateway.
    public var otherGateway: OtherGateway?
    /// With --deep: every gateway-like unit found on either manager.
    public var gateways: [FoundGateway]?
    /// Other gateways this config did not install, named (S9), and other advice.
    public var warnings: [String]
    /// This product's other installs: other profiles on either manager, this profile on the other one.
    public var otherInstances: [OtherInstance] = []
}

extension GatewayService {
    /// `openclaw gateway status`: never throws — every failure is part of the report.
    public func status(_ options: StatusOptions = StatusOptions()) -> StatusReport {
        report(options, lookElsewhere: true)
    }

    private func report(_ options: StatusOptions, lookElsewhere: Bool) -> StatusReport {
        var section = ServiceSection(scope: target.kind, target: target, service: nil, socket: nil)
        var managerError: String?
        do {
            section = try serviceSection()
        } catch {
            managerError = error.description
            section.error = error.description
        }
        // Upstream misreported system units as "not installed": when this
        // manager has none, report the other manager's unit of this profile,
        // with that target's paths and token (a system unit runs as its User=).
        if !section.installed, lookElsewhere, let other = try? target.other(environment: environment) {
            let otherService = GatewayService(target: other, environment: environment, prober: prober)
            if let found = try? otherService.serviceSection(), found.installed {
                return otherService.report(options, lookElsewhere: false)
            }
        }

        var configError: String?
        var settings = GatewaySettings(paths: target.paths)
        do { settings = try self.settings() } catch { configError = error.description }
        settings = presented(settings, credentialPath: section.credentialPath)
        // An explicit address (--url, OPENCLAW_GATEWAY_URL) is probed as given; whoever answers
        // there is what the user asked about, so only the unit's own address gets the identity check.
        let explicitURL = options.url ?? environment["OPENCLAW_GATEWAY_URL"].flatMap { $0.isEmpty ? nil : $0 }
        let url = explicitURL ?? section.listen.first.map(Self.probeURL(listenAddress:)) ?? settings.clientURL
        let rpc = options.probe ? probe(settings, url: url, timeoutMs: options.probeTimeoutMs) : nil
        var otherGateway: OtherGateway?
        if explicitURL == nil, let answered = rpc, answered.ok, let identity = answered.identity,
           let why = identity.mismatch(target: target, installed: section.installed, mainPID: section.mainPID,
                                       currentMainPID: { self.currentMainPID() }) {
            otherGateway = OtherGateway(identity: identity, reason: why, unit: identity.pid.flatMap(GatewayIdentity.unit(ofPID:)))
        }
        var warnings: [String] = []
        var lastErrorLine: String?
        if let rpc, !rpc.ok || otherGateway != nil,
           section.isActive || section.activeState == "failed" || section.socketActiveState == "failed" {
            lastErrorLine = lastJournalError()
        }
        if section.needDaemonReload {
            warnings.append("a unit file changed on disk since systemd read it: run `\(target.command("gateway install --force"))`")
        }
        if let listen = section.listen.first, !section.listen.contains(where: { $0.hasSuffix(":\(settings.port)") }) {
            warnings.append("the socket listens on \(listen) but the config says port \(settings.port): "
                + "run `\(target.command("gateway install --force"))`")
        }
        if let running = rpc?.version, running != BuildInfo.version {
            // After a package upgrade a user gateway keeps the previous binary until restarted.
            warnings.append("the gateway runs version \(running) but this openclaw is \(BuildInfo.version): "
                + "run `\(target.command("gateway restart"))` to run the installed one")
        }
        warnings += rpc?.storageFaults ?? []
        warnings += tokenDrift(credentialPath: section.credentialPath, unitFilePath: section.unitFilePath).map {
            $0.message + ": " + ($0.fixable ? "run `\(target.command("doctor --fix"))`" : $0.fix)
        }
        // S9 in every status: the cheap scan (units named like a gateway) unless --deep asks for all.
        let found = scanForGateways(port: settings.port, deep: options.deep)
        let gateways: [FoundGateway]? = options.deep ? found : nil
        warnings += found.filter { options.deep ? !$0.ours : $0.isForeign }.map(\.warning)
        let instances = OtherInstance.group(found.filter { !$0.ours && $0.profile != nil && !($0.vendor && $0.activeState != "active") })
        let oursListens = section.socketActiveState == "active" && section.listen.contains { $0.hasSuffix(":\(settings.port)") }
        if !oursListens, otherGateway == nil, explicitURL == nil, ListeningPorts.current().contains(settings.port) {
            warnings.append("port \(settings.port) is in use by \(portHolder(settings.port) ?? "another program"), "
                + "not by \(target.socketUnit)")
        }

        let exit: StatusExit
        if configError != nil {
            exit = .error
        } else if otherGateway != nil {
            exit = .otherGateway
        } else if rpc?.ok == true {
            exit = .running
        } else if rpc?.authRefusal != nil {
            exit = .authRefused
        } else if managerError != nil && !section.installed {
            exit = .error
        } else if !section.installed {
            exit = .notInstalled
        } else if !section.isActive {
            exit = .notRunning
        } else {
            exit = rpc == nil ? .running : .unreachable
        }
        var report = StatusReport(exitCode: exit, profile: target.paths.profileLabel, configPath: target.paths.configPath,
                            configError: configError, probeTarget: url, service: section, rpc: rpc,
                            lastErrorLine: lastErrorLine, otherGateway: otherGateway, gateways: gateways,
                            warnings: warnings, otherInstances: instances)
        report.configPresent = FileIO.exists(target.paths.configPath)
        if let restarts = section.restarts, restarts > 0 { report.lastRestart = lastRestartReason() }
        return report
    }

    /// MainPID now (after a probe that may have activated the service); nil when it cannot be read.
    func currentMainPID() -> UInt32? {
        (try? withManager { (m) throws(SystemdError) in try m.unit(target.serviceUnit) })??.mainPID
    }

    func serviceSection() throws(ServiceError) -> ServiceSection {
        let (service, socket) = try withManager { (m) throws(SystemdError) in
            (try m.unit(target.serviceUnit), try m.unit(target.socketUnit))
        }
        return ServiceSection(scope: target.kind, target: target, service: service, socket: socket)
    }
}
