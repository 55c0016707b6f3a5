import JSONCore
import OpenClawConfig
@testable import OpenClawCLI
@testable import ServiceManager
import Testing

private func plain(_ text: String, _ color: Terminal.Color) -> String { text }

private func section(installed: Bool) -> ServiceSection {
    let paths = OpenClawPaths(profile: nil, stateDir: "/home/a/.openclaw", configPath: "/home/a/.openclaw/openclaw.json")
    let target = ServiceTarget(kind: .user, paths: paths, unitDirectory: "/home/a/.config/systemd/user",
                               exec: "/usr/bin/openclaw", userName: "a", uid: 1000, gid: 1000)
    var s = ServiceSection(scope: .user, target: target, service: nil, socket: nil)
    if installed {
        s.installed = true
        s.unitFilePath = "/home/a/.config/systemd/user/openclaw-gateway.service"
        s.loadState = "loaded"
        s.unitFileState = "enabled"
        s.activeState = "active"
        s.subState = "running"
        s.mainPID = 4242
        s.activeSinceUsec = 1_000_000_000
        s.restarts = 2
        s.lastExitCode = "exited"
        s.lastExitStatus = 0
        s.result = "success"
        s.socketActiveState = "active"
        s.socketSubState = "running"
        s.listen = ["127.0.0.1:18789"]
    }
    return s
}

private func report(_ service: ServiceSection, rpc: ProbeResult?) -> StatusReport {
    StatusReport(exitCode: .running, profile: "default", configPath: "/home/a/.openclaw/openclaw.json",
                 configError: nil, probeTarget: "ws://127.0.0.1:18789", service: service, rpc: rpc,
                 lastErrorLine: nil, gateways: nil, warnings: [])
}

@Suite struct StatusTextTests {
    @Test func runningAndReachable() {
        var probe = ProbeResult(url: "ws://127.0.0.1:18789", ok: true)
        probe.roundTripMs = 3.14
        probe.version = "0.1.0"
        probe.pid = 4242
        probe.uptimeMs = 65_000
        probe.clients = 1
        probe.activation = "socket"
        let text = StatusText.render(report(section(installed: true), rpc: probe), nowUsec: 1_065_000_000,
                                     paint: plain)
        #expect(text == """
            Profile:       default
            Config:        /home/a/.openclaw/openclaw.json
            Probe target:  ws://127.0.0.1:18789

            Service (systemd user manager)
              Unit:        openclaw-gateway.service (/home/a/.config/systemd/user/openclaw-gateway.service)
              Loaded:      loaded, enabled
              Active:      active (running) for 1m 5s
              Main PID:    4242
              Restarts:    2
              Last exit:   exited status 0, result success
              Socket:      openclaw-gateway.socket active (running) on 127.0.0.1:18789

            RPC
              URL:         ws://127.0.0.1:18789
              Result:      ok (hello-ok in 3.1 ms)
              Gateway:     version 0.1.0, pid 4242, uptime 1m 5s, 1 client, activation socket
            """)
    }

    @Test func gatewayTextIsEscaped() {
        var probe = ProbeResult(url: "ws://127.0.0.1:18789", ok: true)
        probe.version = "0.1.0\u{1b}[2J"
        probe.channels = ["#ops\u{1b}]0;x\u{07}": ["linked": true, "connected": false, "lastError": "bye\u{1b}[31m"]]
        var r = report(section(installed: true), rpc: probe)
        r.warnings = ["the gateway's ledger cannot record (\u{1b}[8mhidden)"]
        r.lastErrorLine = "fatal\rforged line"
        let text = StatusText.render(r, nowUsec: 0, paint: plain)
        #expect(!text.unicodeScalars.contains { $0 == "\u{1b}" || $0 == "\u{07}" || $0 == "\r" })
        #expect(text.contains("version 0.1.0\\x1b[2J"))
        #expect(text.contains("  Channel:     #ops\\x1b]0;x\\x07: linked, disconnected; last error: bye\\x1b[31m"))
        #expect(text.contains("  - the gateway's ledger cannot record (\\x1b[8mhidden)"))
        #expect(text.contains("Last gateway error: fatal\\rforged line"))
    }

    @Test func notInstalledAndNoProbe() {
        let text = StatusText.render(report(section(installed: false), rpc: nil), nowUsec: 0, paint: plain)
        #expect(text.contains("  Unit:        openclaw-gateway.service: not installed (run `openclaw gateway install`)"))
        #expect(text.contains("RPC\n  Probe:       skipped (--no-probe)"))
    }

    @Test func managerErrorWarningsAndDeepScan() {
        var s = section(installed: false)
        s.error = "no systemd user manager for this login"
        var r = report(s, rpc: ProbeResult(url: "ws://127.0.0.1:18789", ok: false, error: "Connection refused"))
        r.lastErrorLine = "bind failed"
        r.warnings = ["legacy gateway unit: clawdbot-gateway.service"]
        r.gateways = [FoundGateway(scope: .user, unit: "clawdbot-gateway.service", activeState: "active",
                                   fragmentPath: "/x", execStart: nil, listen: ["127.0.0.1:18789"], reason: "name",
                                   ours: false, legacy: true)]
        let text = StatusText.render(r, nowUsec: 0, paint: plain)
        #expect(text.contains("  Error:       no systemd user manager for this login"))
        #expect(text.contains("  Result:      failed: Connection refused"))
        #expect(text.contains("Last gateway error: bind failed"))
        #expect(text.contains("Warnings:\n  - legacy gateway unit: clawdbot-gateway.service"))
        #expect(text.contains("Gateways found: 1\n  user clawdbot-gateway.service active [legacy, found by name] on 127.0.0.1:18789"))
    }
}

@Suite struct DoctorTextTests {
    let drift = Finding("exec-start-drift", .error, "ExecStart runs /old/openclaw", fix: "reinstall the units",
                        fixable: true)
    let linger = Finding("linger-off", .warning, "linger is off", fix: "run `loginctl enable-linger a`",
                         fixable: false)

    @Test func clean() {
        let text = DoctorText.render(DoctorReport(findings: [], fixed: [], remaining: []), fixRequested: false,
                                     paint: plain)
        #expect(text == "No problems found.")
    }

    @Test func findingsWithTheirFixes() {
        let text = DoctorText.render(DoctorReport(findings: [drift, linger], fixed: [], remaining: [drift, linger]),
                                     fixRequested: false, paint: plain)
        #expect(text == """
            Findings:
              ERROR [exec-start-drift] ExecStart runs /old/openclaw
                  fix: reinstall the units [fixable]
              WARNING [linger-off] linger is off
                  fix: run `loginctl enable-linger a`

            Run `openclaw doctor --fix` to apply the fixes marked [fixable].
            """)
    }

    @Test func afterFix() {
        let text = DoctorText.render(
            DoctorReport(findings: [drift, linger], fixed: ["units: reinstalled"], remaining: [linger]),
            fixRequested: true, paint: plain)
        #expect(text.hasSuffix("""
            Fixed:
              - units: reinstalled

            Remaining:
              WARNING [linger-off] linger is off
                  fix: run `loginctl enable-linger a`
            """))
    }
}

@Suite struct ProbeReasonTests {
    @Test func reasonsDoNotRecommendStatusFromInsideStatus() {
        let reasons = [
            ClientProber.reason(.unreachable(url: "ws://x:1", reason: "Connection refused")),
            ClientProber.reason(.timeout(url: "ws://x:1", what: "hello-ok")),
            ClientProber.reason(.closed(url: "ws://x:1", code: 1008, reason: "bye")),
        ]
        #expect(reasons == ["Connection refused", "no answer in time (waiting for hello-ok)", "closed with code 1008: bye"])
    }
}
