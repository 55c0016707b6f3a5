import OpenClawConfig
import SystemdKit
import Testing
@testable import ServiceManager

@Suite struct UnitAuditTests {
    let paths = OpenClawPaths(profile: nil, stateDir: "/home/a/.openclaw", configPath: "/home/a/.openclaw/openclaw.json")
    var expected: [UnitRenderer.UnitFile] {
        UnitRenderer.render(kind: .user, paths: paths, port: 18789, bind: "127.0.0.1", exec: "/usr/bin/openclaw",
                            user: nil)
    }

    func audit(_ edit: (inout [String?]) -> Void) -> [Finding] {
        var installed: [String?] = expected.map(\.contents)
        edit(&installed)
        return UnitAudit.compare(expected: expected, installed: installed, directory: "/u")
    }

    @Test func identicalUnitsHaveNoFindings() {
        #expect(audit { _ in }.isEmpty)
    }

    @Test func missingSocketIsNamed() {
        let findings = audit { $0[1] = nil }
        #expect(findings.map(\.id) == ["socket-missing"])
        #expect(findings[0].message.contains("/u/openclaw-gateway.socket"))
    }

    @Test func execStartDriftShowsBothCommandLines() {
        let findings = audit { $0[0] = $0[0]!.replacing("ExecStart=/usr/bin/openclaw", with: "ExecStart=/old/openclaw") }
        #expect(findings.map(\.id) == ["exec-start-drift"])
        #expect(findings[0].message.contains("/old/openclaw") && findings[0].message.contains("/usr/bin/openclaw"))
        #expect(findings[0].fixable)
    }

    @Test func portMismatchAndMissingWatchdog() {
        let findings = audit {
            $0[1] = $0[1]!.replacing("ListenStream=127.0.0.1:18789", with: "ListenStream=127.0.0.1:18000")
            $0[0] = $0[0]!.replacing("WatchdogSec=30s\n", with: "")
        }
        #expect(Set(findings.map(\.id)) == ["port-mismatch", "watchdog-missing"])
    }

    @Test func removedHardeningIsListed() {
        let findings = audit {
            $0[0] = $0[0]!.replacing("NoNewPrivileges=yes\n", with: "").replacing("ProtectSystem=strict", with: "ProtectSystem=full")
        }
        #expect(findings.map(\.id) == ["hardening-missing"])
        #expect(findings[0].message.contains("NoNewPrivileges, ProtectSystem"))
    }

    @Test func otherSettingsAndCommentsOnly() {
        let changed = audit { $0[0] = $0[0]!.replacing("RestartSec=5", with: "RestartSec=1") }
        #expect(changed.map(\.id) == ["unit-differs"] && changed[0].severity == .warning)
        #expect(changed[0].message.contains("RestartSec"))
        let comments = audit { $0[0] = "# edited by hand\n" + $0[0]! }
        #expect(comments.map(\.id) == ["unit-differs"] && comments[0].severity == .info)
    }

    @Test func settingsParserKeepsRepeatedKeys() {
        let s = UnitAudit.settings("[Service]\n# c\nSystemCallFilter=@system-service\nSystemCallFilter=~@privileged\n X = y \n")
        #expect(s["SystemCallFilter"] == ["@system-service", "~@privileged"])
        #expect(s["X"] == ["y "])
    }
}

@Suite struct GatewayScanTests {
    @Test func namesOfGatewayUnits() {
        #expect(GatewayNames.match("openclaw-gateway.service")! == ("openclaw-gateway", nil))
        #expect(GatewayNames.match("openclaw-gateway-work.socket")! == ("openclaw-gateway", "work"))
        #expect(GatewayNames.match("clawdbot-gateway.service")! == ("clawdbot-gateway", nil))
        #expect(GatewayNames.match("openclaw-gateway.timer") == nil)
        #expect(GatewayNames.match("sshd.service") == nil)
    }

    @Test func execStartHeuristic() {
        #expect(GatewayNames.execLooksLikeGateway(["/usr/local/bin/clawdbot", "gateway", "--port", "1"]))
        #expect(GatewayNames.execLooksLikeGateway(["/opt/moltbot-gateway"]))
        #expect(!GatewayNames.execLooksLikeGateway(["/usr/bin/nginx", "gateway"]))
        #expect(!GatewayNames.execLooksLikeGateway([]))
    }

    @Test func listeningPortsFromProcNetTCP() {
        let text = """
              sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
               0: 0100007F:4965 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 1 1
               1: 0100007F:4966 0100007F:9C40 01 00000000:00000000 00:00000000 00000000  1000        0 2 1
            """
        #expect(ListeningPorts.parse(text) == [18789])
    }
}

@Suite struct NoManagerExplanationTests {
    @Test func eachSituationNamesItsWayOut() {
        let wsl = HostFacts(systemdIsPID1: false, isWSL: true, hasRuntimeDir: false, isRoot: false)
        #expect(wsl.explainUnavailable(.user).contains("systemd=true"))
        let container = HostFacts(systemdIsPID1: false, isWSL: false, hasRuntimeDir: false, isRoot: true)
        #expect(container.explainUnavailable(.user).contains("PID 1 is not systemd"))
        let sudo = HostFacts(systemdIsPID1: true, isWSL: false, hasRuntimeDir: false, isRoot: true)
        #expect(sudo.explainUnavailable(.user).contains("XDG_RUNTIME_DIR"))
        #expect(sudo.explainUnavailable(.user).contains("--system"))
    }
}

@Suite struct StatusJSONTests {
    @Test func everyKeyIsPresentEvenWhenEmpty() {
        let paths = OpenClawPaths(profile: nil, stateDir: "/s", configPath: "/s/openclaw.json")
        let target = ServiceTarget(kind: .user, paths: paths, unitDirectory: "/u", exec: "/x", userName: "a",
                                   uid: 1000, gid: 1000)
        let report = StatusReport(exitCode: .notInstalled, profile: "default", configPath: "/s/openclaw.json",
                                  configError: nil, probeTarget: "ws://127.0.0.1:18789",
                                  service: ServiceSection(scope: .user, target: target, service: nil, socket: nil),
                                  rpc: ProbeResult(url: "ws://127.0.0.1:18789", ok: false, error: "refused"),
                                  lastErrorLine: nil, gateways: nil, warnings: [])
        let json = report.json
        #expect(json["exitCode"]?.intValue == 3 && json["state"]?.stringValue == "not-installed")
        #expect(json["service"]?["mainPid"] == .null && json["service"]?["installed"]?.boolValue == false)
        #expect(json["service"]?["tokenFile"] == .null)
        #expect(json["rpc"]?["error"]?.stringValue == "refused")
        let keys: [String] = if case .object(let o) = json { o.keys } else { [] }
        #expect(keys == ["schemaVersion", "cliVersion", "exitCode", "state", "profile", "configPath", "configError",
                         "probeTarget", "service", "rpc", "lastErrorLine", "gateways", "warnings", "otherGateway", "configPresent", "lastRestart", "otherInstances"])
    }
}

@Suite struct ProbeTargetTests {
    @Test func listenAddressesBecomeLoopbackURLs() {
        #expect(GatewayService.probeURL(listenAddress: "127.0.0.1:19000") == "ws://127.0.0.1:19000")
        #expect(GatewayService.probeURL(listenAddress: "0.0.0.0:18789") == "ws://127.0.0.1:18789")
        #expect(GatewayService.probeURL(listenAddress: "[::]:18789") == "ws://[::1]:18789")
        #expect(GatewayService.probeURL(listenAddress: "[fe80::1]:18789") == "ws://[fe80::1]:18789")
    }
}

@Suite struct InstalledRuleTests {
    func unit(_ path: String, _ fileState: String, _ active: String) -> UnitState {
        var u = UnitState(name: "openclaw-gateway.service")
        u.fragmentPath = path
        u.unitFileState = fileState
        u.activeState = active
        return u
    }

    @Test func vendorUnitsOnlyCountWhenUsed() {
        let dir = "/home/a/.config/systemd/user"
        #expect(ServiceSection.countsAsInstalled(unit(dir + "/openclaw-gateway.service", "disabled", "inactive"), directory: dir))
        #expect(!ServiceSection.countsAsInstalled(unit("/usr/lib/systemd/user/openclaw-gateway.service", "disabled", "inactive"), directory: dir))
        #expect(ServiceSection.countsAsInstalled(unit("/usr/lib/systemd/user/openclaw-gateway.service", "enabled", "inactive"), directory: dir))
        #expect(ServiceSection.countsAsInstalled(unit("/usr/lib/systemd/user/openclaw-gateway.service", "disabled", "active"), directory: dir))
    }
}
