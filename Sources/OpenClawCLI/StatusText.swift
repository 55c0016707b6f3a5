import JSONCore
import ServiceManager

/// Human text for `openclaw gateway status`.
///
/// The line labels are a contract with the system tests and with people's
/// scripts that grep them: `Config:`, `Probe target:`, the `Service (…)` and
/// `RPC` section headings, then `Warnings:` and `Gateways found:`. Values may
/// gain detail; labels are only ever added.
///
/// What the gateway supplies (its STATUS=, version, errors, channel names, storage
/// faults in the warnings, the journal's last error) is printed through
/// `HealthText.shown`: control characters escaped, so it cannot drive the terminal.
enum StatusText {
    static func render(_ report: StatusReport, nowUsec: UInt64, paint: (String, Terminal.Color) -> String) -> String {
        var lines: [String] = []
        lines.append("Profile:       \(report.profile)")
        let config = report.configError.map { " (" + paint("error: \($0)", .red) + ")" }
            ?? (report.configPresent ? "" : " (not present: defaults)")
        lines.append("Config:        \(report.configPath)" + config)
        lines.append("Probe target:  \(report.probeTarget)")
        lines.append("")
        lines += service(report.service, nowUsec: nowUsec, paint: paint)
        if let restart = report.lastRestart { lines.append("  Last restart: \(restart)") }
        lines.append("")
        lines += rpc(report.rpc, other: report.otherGateway, paint: paint)
        if let line = report.lastErrorLine {
            lines.append("")
            lines.append("Last gateway error: \(HealthText.shown(line))")
        }
        if !report.otherInstances.isEmpty {
            lines.append("")
            lines.append("Other installs: " + report.otherInstances.map(\.summary).joined(separator: "; "))
        }
        if !report.warnings.isEmpty {
            lines.append("")
            lines.append("Warnings:")
            lines += report.warnings.map { "  - " + paint(HealthText.shown($0), .yellow) }
        }
        if let gateways = report.gateways {
            lines.append("")
            lines.append("Gateways found: \(gateways.count)")
            for g in gateways {
                let state = g.activeState.isEmpty ? "" : " \(g.activeState)"
                let mark = g.ours ? "ours" : g.legacy ? "legacy" : "foreign"
                let listen = g.listen.isEmpty ? "" : " on " + g.listen.joined(separator: ", ")
                lines.append("  \(g.scope.rawValue) \(g.unit)\(state) [\(mark), found by \(g.reason)]\(listen)")
            }
        }
        return lines.joined(separator: "\n")
    }

    static func service(_ s: ServiceSection, nowUsec: UInt64, paint: (String, Terminal.Color) -> String) -> [String] {
        var lines = ["Service (systemd \(s.scope.rawValue) manager)"]
        if let error = s.error {
            lines.append("  Error:       " + paint(error, .red))
            return lines
        }
        guard s.installed else {
            lines.append("  Unit:        \(s.unit): " + paint("not installed", .yellow)
                + " (run `\(s.installCommand)`)")
            return lines
        }
        lines.append("  Unit:        \(s.unit)" + (s.unitFilePath.map { " (\($0))" } ?? ""))
        lines.append("  Loaded:      \(s.loadState ?? "unknown"), \(s.unitFileState ?? "unknown")")
        if let token = s.credentialPath { lines.append("  Token:       \(token) (LoadCredential=: the secret the gateway checks)") }
        var active = "\(s.activeState ?? "unknown") (\(s.subState ?? "unknown"))"
        active = s.activeState == "active" ? paint(active, .green)
            : s.activeState == "failed" ? paint(active, .red) : active
        if let since = s.activeSinceUsec, since > 0, nowUsec >= since {
            active += " for \(HealthText.duration(ms: Int64((nowUsec - since) / 1000)))"
        }
        lines.append("  Active:      \(active)")
        if let pid = s.mainPID, pid > 0 { lines.append("  Main PID:    \(pid)") }
        if let restarts = s.restarts { lines.append("  Restarts:    \(restarts)") }
        if let code = s.lastExitCode {
            let status = s.lastExitStatus.map { code == "exited" ? " status \($0)" : " signal \($0)" } ?? ""
            lines.append("  Last exit:   \(code)\(status)" + (s.result.map { ", result \($0)" } ?? ""))
        }
        if let text = s.statusText { lines.append("  Status:      \(HealthText.shown(text))") }
        let socketState = s.socketActiveState.map { "\($0) (\(s.socketSubState ?? "unknown"))" } ?? "not loaded"
        let listen = s.listen.isEmpty ? "" : " on " + s.listen.joined(separator: ", ")
        lines.append("  Socket:      \(s.socketUnit) \(socketState)\(listen)")
        return lines
    }

    static func rpc(_ probe: ProbeResult?, other: OtherGateway?, paint: (String, Terminal.Color) -> String) -> [String] {
        var lines = ["RPC"]
        guard let probe else {
            lines.append("  Probe:       skipped (--no-probe)")
            return lines
        }
        lines.append("  URL:         \(probe.url)")
        if let other {
            lines.append("  Result:      " + paint("not this unit", .red) + ": " + HealthText.shown(other.sentence))
        } else if probe.ok {
            let rtt = probe.roundTripMs.map { " in \(formatMs($0))" } ?? ""
            lines.append("  Result:      " + paint("ok", .green) + " (hello-ok\(rtt))")
        } else {
            lines.append("  Result:      " + paint("failed", .red) + (probe.error.map { ": \(HealthText.shown($0))" } ?? ""))
            if probe.authRefusal != nil {
                lines.append("  Meaning:     the gateway is up, but it refuses our secret; `openclaw doctor` "
                    + "compares the token sources")
            }
        }
        var facts: [String] = []
        if let version = probe.version { facts.append("version \(HealthText.shown(version))") }
        if let pid = probe.pid { facts.append("pid \(pid)") }
        if let uptime = probe.uptimeMs { facts.append("uptime \(HealthText.duration(ms: uptime))") }
        if let clients = probe.clients { facts.append("\(clients) client" + (clients == 1 ? "" : "s")) }
        if let activation = probe.activation { facts.append("activation \(HealthText.shown(activation))") }
        if !facts.isEmpty { lines.append("  Gateway:     " + facts.joined(separator: ", ")) }
        if let channels = probe.channels?.objectValue, !channels.isEmpty {
            for (id, channel) in channels.entries {
                lines.append("  Channel:     \(HealthText.shown(id)): " + HealthText.channelState(channel, paint: paint))
            }
        }
        return lines
    }

    static func formatMs(_ ms: Double) -> String {
        let tenths = Int((ms * 10).rounded())
        return "\(tenths / 10).\(tenths % 10) ms"
    }
}
