import Glibc
import JSONCore
import ServiceManager

/// `openclaw gateway install|uninstall|start|stop|restart|status` and `openclaw doctor`:
/// ServiceManager does the work over sd-bus; this file only turns its results into text and exit codes.
struct ServiceCommands {
    let terminal: Terminal
    let environment: [String: String]
    let profile: String?

    func service(system: Bool, userName: String? = nil, installing: Bool = false) throws(CommandFailure) -> GatewayService {
        do {
            let target = try ServiceTarget.resolve(
                kind: system ? .system : .user, profile: profile, environment: environment, userName: userName,
                installing: installing)
            return GatewayService(target: target, environment: environment, prober: ClientProber())
        } catch {
            throw CommandFailure(error)
        }
    }

    func install(_ request: InstallRequest) throws(CommandFailure) -> Int32 {
        let service = try service(system: request.system, userName: request.userName, installing: true)
        let result: InstallResult
        do {
            result = try service.install(InstallOptions(force: request.force, port: request.port, token: request.token))
        } catch {
            throw CommandFailure(error)
        }
        if request.json {
            terminal.line(document("install", service, result.json).prettyPrinted())
            return CLI.Exit.ok
        }
        switch result.outcome {
        case .alreadyInstalled:
            terminal.line("\(service.target.serviceUnit) is already installed as configured; nothing changed "
                + "(use --force to reinstall).")
        case .installed, .reinstalled:
            terminal.line("\(result.outcome == .installed ? "Installed" : "Reinstalled") \(service.target.serviceUnit) "
                + "(\(service.target.kind.rawValue) service):")
            for file in result.unitFiles { terminal.line("  \(file)") }
        }
        terminal.line("Token: \(result.tokenFile) (\(result.tokenSource))")
        switch result.linger {
        case .notNeeded, .alreadyOn: break
        case .enabled: terminal.line("Linger: enabled for \(service.target.userName), so the gateway outlives logout.")
        case .refused(let command):
            terminal.line(terminal.paint("Linger: not allowed for this user; the gateway stops at logout until "
                + "an administrator runs: \(command)", .yellow))
        case .failed(let why):
            terminal.line(terminal.paint("Linger: could not be enabled (\(why)).", .yellow))
        }
        if let probe = result.probe {
            terminal.line(probe.ok ? "Gateway answers at \(probe.url)." : "Gateway does not answer at \(probe.url) yet.")
        }
        return CLI.Exit.ok
    }

    /// `{action, unit, kind, …result}`: every lifecycle document names what was acted on.
    private func document(_ action: String, _ service: GatewayService, _ result: JSONValue) -> JSONValue {
        var o = JSONObject([("action", .string(action)), ("unit", .string(service.target.serviceUnit)),
                            ("socketUnit", .string(service.target.socketUnit)),
                            ("kind", .string(service.target.kind.rawValue))])
        for (key, value) in result.objectValue?.entries ?? [] { o[key] = value }
        return .object(o)
    }

    func run(_ verb: Invocation.ServiceVerb, system: Bool, json: Bool) throws(CommandFailure) -> Int32 {
        let service = try service(system: system)
        let unit = service.target.serviceUnit
        do {
            switch verb {
            case .start where json, .restart where json:
                let result = verb == .start ? try service.start() : try service.restart()
                terminal.line(document(verb.rawValue, service, result.json).prettyPrinted())
            case .stop where json:
                terminal.line(document(verb.rawValue, service, try service.stop().json).prettyPrinted())
            case .start, .restart:
                let result = verb == .start ? try service.start() : try service.restart()
                let url = result.probe.map { " and answers at \($0.url)" } ?? ""
                terminal.line("\(verb == .start ? "Started" : "Restarted") \(unit)\(url).")
            case .stop:
                _ = try service.stop()
                terminal.line("Stopped \(unit) and \(service.target.socketUnit).")
            case .reload:
                return reloaded(try service.reload(), unit: unit)
            }
        } catch {
            throw CommandFailure(error)
        }
        return CLI.Exit.ok
    }

    func uninstall(system: Bool, purge: Bool, json: Bool) throws(CommandFailure) -> Int32 {
        let service = try service(system: system)
        let result: UninstallResult
        do { result = try service.uninstall(purge: purge) } catch .notInstalled {
            throw CommandFailure("\(service.target.serviceUnit) is not installed on the systemd "
                + "\(service.target.kind.rawValue) manager: nothing to uninstall "
                + "(`\(service.target.command("gateway status"))` shows where it runs)", exitCode: CLI.Exit.notInstalled)
        } catch {
            throw CommandFailure(error)
        }
        if json {
            terminal.line(document("uninstall", service, result.json).prettyPrinted())
            return CLI.Exit.ok
        }
        terminal.line("Uninstalled \(service.target.serviceUnit); removed:")
        for file in result.removedFiles { terminal.line("  \(file)") }
        if let kept = result.keptStateDir {
            terminal.line("State and token kept in \(kept) (`openclaw gateway uninstall --purge --yes` deletes them).")
        }
        return CLI.Exit.ok
    }

    func rotateToken(system: Bool) throws(CommandFailure) -> Int32 {
        let service = try service(system: system)
        let rotation: TokenRotation
        do { rotation = try service.rotateToken() } catch { throw CommandFailure(error) }
        terminal.line("New token written to \(rotation.tokenFile); \(service.target.serviceUnit) restarted and "
            + "answers at \(rotation.url) with it. Clients using the old token must be given the new one.")
        if rotation.configStillHasSecret {
            terminal.line(terminal.paint("\(service.target.paths.configPath) also sets gateway.auth.token: the gateway "
                + "now uses the token file; remove that key (or set it to the new token) so that clients reading the "
                + "config agree.", .yellow))
        }
        return CLI.Exit.ok
    }

    private func reloaded(_ result: ReloadResult, unit: String) -> Int32 {
        switch result.outcome {
        case .applied:
            terminal.line("Reloaded \(unit): the gateway at \(result.url) applied the new configuration.")
            return CLI.Exit.ok
        case .rejected(let error):
            terminal.error("\(unit) kept its previous configuration: \(error); fix the file, then run "
                + "`openclaw gateway reload` again")
            return CLI.Exit.failure
        case .unknown(let why):
            terminal.error("systemd reloaded \(unit), but whether the gateway applied the configuration is unknown: "
                + "\(why); see `openclaw gateway status`")
            return CLI.Exit.failure
        }
    }

    func status(_ request: StatusRequest) throws(CommandFailure) -> Int32 {
        let report = try service(system: request.system)
            .status(StatusOptions(url: request.url, probe: request.probe, deep: request.deep,
                                  probeTimeoutMs: request.probeTimeoutMs ?? StatusOptions().probeTimeoutMs))
        if request.json {
            terminal.line(report.json.prettyPrinted())
        } else {
            var now = timespec()
            clock_gettime(CLOCK_REALTIME, &now)
            let nowUsec = UInt64(now.tv_sec) * 1_000_000 + UInt64(now.tv_nsec / 1000)
            terminal.line(StatusText.render(report, nowUsec: nowUsec, paint: terminal.paint))
        }
        return report.exitCode.rawValue
    }

    func doctor(_ request: DoctorRequest) throws(CommandFailure) -> Int32 {
        let service = try service(system: request.system)
        let report: DoctorReport
        do {
            report = try service.doctor(fix: request.fix)
        } catch {
            throw CommandFailure(error)
        }
        terminal.line(request.json ? report.json.prettyPrinted()
            : DoctorText.render(report, fixRequested: request.fix, paint: terminal.paint))
        return report.ok ? CLI.Exit.ok : CLI.Exit.failure
    }
}

/// Human text for `openclaw doctor`: each finding with its fix, then what `--fix` changed.
enum DoctorText {
    static func render(_ report: DoctorReport, fixRequested: Bool, paint: (String, Terminal.Color) -> String) -> String {
        var lines: [String] = []
        if !report.checked.isEmpty {
            lines.append("Checked and fine:")
            lines += report.checked.map { "  - \($0)" }
            lines.append("")
        }
        if report.findings.isEmpty {
            lines.append(paint("No problems found.", .green))
        } else {
            lines.append("Findings:")
            for finding in report.findings { lines += describe(finding, paint: paint) }
        }
        if fixRequested {
            lines.append("")
            if report.fixed.isEmpty {
                lines.append("Fixed: nothing")
            } else {
                lines.append("Fixed:")
                lines += report.fixed.map { "  - \($0)" }
            }
            if let failure = report.fixFailure {
                lines.append(paint("Stopped fixing: \(failure)", .red))
            }
            let left = report.remaining.filter { $0.severity != .info }
            if !left.isEmpty {
                lines.append("")
                lines.append("Remaining:")
                for finding in left { lines += describe(finding, paint: paint) }
            }
        } else if report.findings.contains(where: \.fixable) {
            lines.append("")
            lines.append("Run `openclaw doctor --fix` to apply the fixes marked [fixable].")
        }
        return lines.joined(separator: "\n")
    }

    private static func describe(_ f: Finding, paint: (String, Terminal.Color) -> String) -> [String] {
        let color: Terminal.Color = f.severity == .error ? .red : f.severity == .warning ? .yellow : .dim
        return [
            "  " + paint(f.severity.rawValue.uppercased(), color) + " [\(f.id)] \(f.message)",
            "      fix: \(f.fix)" + (f.fixable ? " [fixable]" : ""),
        ]
    }
}
