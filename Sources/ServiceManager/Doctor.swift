import Glibc
import OpenClawConfig
import SystemdKit

public struct DoctorReport: Sendable {
    /// What the audit found (before any fix).
    public var findings: [Finding]
    /// What `--fix` changed, one line each.
    public var fixed: [String]
    /// What the audit finds after fixing (equal to `findings` without `--fix`).
    public var remaining: [Finding]
    /// What was checked and found fine, one line each ("token: /home/a/.openclaw/gateway.token, mode 600").
    public var checked: [String] = []
    /// Why `--fix` stopped before it was done; the CLI then exits 1 even if the audit looks clean.
    public var fixFailure: String?

    public init(findings: [Finding], fixed: [String], remaining: [Finding], checked: [String] = [],
                fixFailure: String? = nil) {
        self.findings = findings
        self.fixed = fixed
        self.remaining = remaining
        self.checked = checked
        self.fixFailure = fixFailure
    }

    /// No error or warning left and every fix applied: the CLI exits 0.
    public var ok: Bool { fixFailure == nil && !remaining.contains { $0.severity != .info } }
}

extension GatewayService {
    /// `openclaw doctor [--fix]` (S12): audits the installed units against
    /// what install would write, linger, token, config, the port, and legacy
    /// installs; with `fix`, applies every fixable finding, and leaves the
    /// gateway running (upstream's doctor left it stopped).
    ///
    /// Without a manager for the scope it throws that one sentence instead of
    /// a report: the other audits (linger, token) are about an install that
    /// cannot exist there, and `--fix` would write a token for it.
    public func doctor(fix: Bool, timeoutMs: Int = 30_000) throws(ServiceError) -> DoctorReport {
        do { _ = try serviceSection() } catch { if case .managerUnavailable = error { throw error } }
        var checked: [String] = []
        let findings = audit(checked: &checked)
        guard fix, findings.contains(where: { $0.fixable }) else {
            return DoctorReport(findings: findings, fixed: [], remaining: findings, checked: checked)
        }
        var fixed: [String] = []
        var fixFailure: String?
        let ids = Set(findings.filter(\.fixable).map(\.id))
        do {
            // A legacy unit beside a healthy install is migrated alone: ours is not reinstalled or restarted for it.
            if ids.contains("legacy-unit") { fixed += try migrateLegacy() }
            let newToken = ids.contains("token-missing")
            if newToken || ids.contains("token-mode") || ids.contains("state-dir-mode") {
                fixed.append("token: \(try installToken(nil)) token in \(target.tokenFile) (0600)")
            }
            if ids.contains("agent-env-mode") {
                try FileIO.chmod(target.paths.agentSecretsFile, 0o600)
                fixed.append("agent secrets: \(target.paths.agentSecretsFile) is 0600 now")
            }
            let unitIDs: Set = ["credential-unsafe", "not-installed", "unit-missing", "socket-missing", "exec-start-drift", "port-mismatch",
                                "watchdog-missing", "hardening-missing", "unit-differs", "daemon-reload"]
            if !ids.isDisjoint(with: unitIDs) {
                let result = try install(InstallOptions(force: true, readyTimeoutMs: timeoutMs))
                fixed.append("units: \(result.outcome.rawValue) \(result.unitFiles.joined(separator: ", "))")
            } else if ids.contains("not-running") || newToken {
                // A new token only counts once the units load it again (LoadCredential= is read at start).
                _ = try restart(timeoutMs: timeoutMs)
                fixed.append("restarted \(target.socketUnit) and \(target.serviceUnit)")
            }
            if ids.contains("token-stale-copy"), try removeStateDirToken() {
                fixed.append("token: removed \(target.paths.tokenFile); the gateway's token is \(target.tokenFile)")
            }
            if ids.contains("token-disagree") { fixed.append(try reconcileConfigToken()) }
            if ids.contains("linger-off") {
                switch try ensureLinger() {
                case .enabled: fixed.append("linger: enabled for \(target.userName)")
                default: break
                }
            }
        } catch {
            fixFailure = error.description
        }
        var after: [String] = []
        return DoctorReport(findings: findings, fixed: fixed, remaining: audit(checked: &after), checked: after,
                            fixFailure: fixFailure)
    }

    /// The findings; `checked` gets one line per check that found nothing wrong.
    func audit(checked: inout [String]) -> [Finding] {
        var findings: [Finding] = []
        var settings: GatewaySettings?
        do {
            settings = try self.settings()
            checked.append("config: " + (FileIO.exists(target.paths.configPath)
                ? "\(target.paths.configPath) reads fine" : "\(target.paths.configPath) not present: defaults"))
        } catch {
            findings.append(Finding("config-invalid", .error, error.description,
                                    fix: "edit \(target.paths.configPath)", fixable: false))
        }

        var section: ServiceSection?
        do {
            section = try serviceSection()
        } catch {
            findings.append(Finding("manager-unavailable", .error, error.description, fix: "see the message",
                                    fixable: false))
        }
        if let section, let units = try? renderedUnits() {
            // The packaged unit lives in the vendor directory (/usr/lib/systemd/system): audit it where systemd loaded it.
            let directory = (section.installed ? section.unitFilePath : nil).map { String($0[..<($0.lastIndex(of: "/") ?? $0.endIndex)]) }
                ?? target.unitDirectory
            let installed = units.map { try? FileIO.readText(directory + "/" + $0.fileName) }
            if installed.allSatisfy({ $0 == nil }) {
                findings.append(Finding("not-installed", .error, "\(target.serviceUnit) is not installed",
                                        fix: "install it (`openclaw gateway install`)", fixable: true))
            } else {
                let audit = UnitAudit.compare(expected: units, installed: installed.map { $0 ?? nil }, directory: directory)
                // The package owns its vendor units: rewriting them would shadow the package with a copy in
                // /etc/systemd/system, so their drift is reported, never "fixed".
                findings += directory == target.unitDirectory ? audit : audit.map { finding in
                    var packaged = finding
                    packaged.fixable = false
                    packaged.fix = "the package's unit: reinstall the package (`apt install --reinstall openclaw`)"
                    return packaged
                }
                if section.needDaemonReload {
                    findings.append(Finding("daemon-reload", .warning, "systemd has not read the changed unit files",
                                            fix: "reload systemd", fixable: true))
                }
                if !section.isActive {
                    findings.append(Finding("not-running", .warning, "\(target.socketUnit) is not active",
                                            fix: "start it (`openclaw gateway start`)", fixable: true))
                }
                let unitFindings = Set(["unit-missing", "socket-missing", "exec-start-drift", "port-mismatch",
                                        "watchdog-missing", "hardening-missing", "unit-differs", "daemon-reload"])
                if !findings.contains(where: { unitFindings.contains($0.id) }) {
                    checked.append("units: \(target.unitFilePaths.joined(separator: ", ")) as install writes them")
                }
                if section.isActive { checked.append("socket: \(target.socketUnit) active") }
            }
            if let settings {
                let port = auditPort(settings.port, section: section)
                if port.isEmpty { checked.append("port \(settings.port): free or ours") }
                findings += port
                if section.isActive {
                    findings += auditStorage(presented(settings, credentialPath: section.credentialPath), checked: &checked)
                }
            }
        }
        func run(_ check: () -> [Finding], fine: String) {
            let found = check()
            if found.isEmpty { checked.append(fine) }
            findings += found
        }
        if target.kind == .user { run(auditLinger, fine: "linger: on for \(target.userName)") }
        run({ auditToken(credentialPath: section?.credentialPath, unitFilePath: section?.unitFilePath) },
            fine: "token: \(target.tokenFile) (the unit's LoadCredential=) mode 600, the only token file")
        run(auditAgentSecrets, fine: "agent secrets: \(target.paths.agentSecretsFile) absent or 0600")
        run(auditSecretSources, fine: "secret: config, environment and the gateway's token file agree")
        run(auditLegacy, fine: "legacy units (clawdbot, moltbot): none")
        return findings
    }

    /// A running gateway whose send ledger or transcripts cannot record refuses what needs them;
    /// only the gateway knows (`status.storage`). Not fixable here: space or permissions are the operator's.
    private func auditStorage(_ settings: GatewaySettings, checked: inout [String]) -> [Finding] {
        let rpc = probe(settings)
        guard rpc.ok else { return [] }  // reachability is status's report; doctor audits the install
        let faults = rpc.storageFaults
        if faults.isEmpty { checked.append("storage: the gateway records its send ledger and transcripts") }
        return faults.map { Finding("storage-fault", .error, $0, fix: "free space or fix permissions in the state dir", fixable: false) }
    }

    private func auditLinger() -> [Finding] {
        guard let login = try? LoginManager(bus: Bus.system()), let linger = try? login.linger(uid: target.uid),
              linger == true else {
            return [Finding("linger-off", .warning,
                            "linger is off for \(target.userName): the gateway stops when the last session ends",
                            fix: "enable it (or run `sudo loginctl enable-linger \(target.userName)`)", fixable: true)]
        }
        return []
    }

    /// The agent backend's API keys: a file others can read is not used by the gateway at all.
    private func auditAgentSecrets() -> [Finding] {
        let file = target.paths.agentSecretsFile
        guard let mode = FileIO.mode(file), mode & 0o077 != 0 else { return [] }
        return [Finding("agent-env-mode", .error,
                        "\(file) (the agent backend's API keys) has mode \(String(mode, radix: 8)), not 600: the gateway ignores it",
                        fix: "chmod 600", fixable: true)]
    }

    /// The port must be ours: our socket listening on it, or nobody.
    private func auditPort(_ port: Int, section: ServiceSection) -> [Finding] {
        let ours = section.socketActiveState == "active" && section.listen.contains { $0.hasSuffix(":\(port)") }
        guard !ours, ListeningPorts.current().contains(port) else { return [] }
        return [Finding("port-conflict", .error,
                        "port \(port) is taken by something other than \(target.socketUnit)",
                        fix: "stop the other listener (`openclaw gateway status --deep` names gateway units), "
                            + "or choose another port with `openclaw gateway install --force --port N`",
                        fixable: false)]
    }

    /// Unit files with a legacy name (clawdbot-gateway, moltbot-gateway) on either manager.
    private func legacyUnits() -> [(scope: ServiceKind, path: String)] {
        var found: [(scope: ServiceKind, path: String)] = []
        for scope in [ServiceKind.user, .system] {
            guard let bus = try? (scope == .user ? Bus.user() : Bus.system()),
                  let files = try? SystemdManager(bus: bus).listUnitFiles(patterns: GatewayNames.filePatterns) else {
                continue
            }
            for file in files {
                if let match = GatewayNames.match(Self.fileName(file.path)),
                   GatewayNames.legacyBases.contains(match.base) {
                    found.append((scope, file.path))
                }
            }
        }
        return found
    }

    static func fileName(_ path: String) -> String { String(path.split(separator: "/").last ?? "") }

    private func auditLegacy() -> [Finding] {
        var findings = legacyUnits().map { unit in
            Finding("legacy-unit", .warning, "legacy \(unit.scope.rawValue) unit \(unit.path)",
                    fix: "stop, disable and remove it, then install \(target.serviceUnit)", fixable: true)
        }
        let home = environment["HOME"] ?? ""
        for dir in [".clawdbot", ".moltbot"] where !home.isEmpty && FileIO.exists(home + "/" + dir) {
            findings.append(Finding("legacy-state-dir", .info, "old state directory \(home)/\(dir)",
                                    fix: "move what you still need into \(target.paths.stateDir), then delete it",
                                    fixable: false))
        }
        return findings
    }

    /// Migrating a legacy install: stop, disable and remove each legacy unit;
    /// the caller then installs ours.
    private func migrateLegacy() throws(ServiceError) -> [String] {
        var done: [String] = []
        for unit in legacyUnits() {
            let name = Self.fileName(unit.path)
            do {
                let manager = SystemdManager(bus: try unit.scope == .user ? Bus.user() : Bus.system())
                if let state = try manager.unit(name), state.activeState != "inactive" {
                    _ = try manager.stopUnit(name, timeoutMs: 30_000)
                }
                try manager.disableUnitFiles([name])
            } catch {
                throw translate(error)
            }
            _ = try FileIO.remove(unit.path)
            done.append("migrated legacy \(unit.scope.rawValue) unit \(name): stopped, disabled, removed \(unit.path)")
        }
        return done
    }
}

/// TCP ports in LISTEN state on this network namespace, from /proc/net/tcp{,6}.
enum ListeningPorts {
    static func current() -> Set<Int> {
        var ports = Set<Int>()
        for file in ["/proc/net/tcp", "/proc/net/tcp6"] {
            guard let text = try? FileIO.readText(file) else { continue }
            ports.formUnion(parse(text))
        }
        return ports
    }

    /// Lines look like `0: 0100007F:4965 00000000:0000 0A …` (state 0A = LISTEN).
    static func parse(_ text: String) -> Set<Int> {
        var ports = Set<Int>()
        for line in text.split(separator: "\n").dropFirst() {
            let columns = line.split(separator: " ")
            guard columns.count > 3, columns[3] == "0A", let colon = columns[1].lastIndex(of: ":"),
                  let port = Int(columns[1][columns[1].index(after: colon)...], radix: 16) else { continue }
            ports.insert(port)
        }
        return ports
    }
}
