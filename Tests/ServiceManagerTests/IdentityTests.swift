import JSONCore
import OpenClawConfig
import Testing

@testable import ServiceManager

@Suite struct IdentityTests {
    let target = ServiceTarget(
        kind: .system, paths: OpenClawPaths(profile: "twin", stateDir: "/home/a/.openclaw-twin",
                                            configPath: "/home/a/.openclaw-twin/openclaw.json"),
        unitDirectory: "/etc/systemd/system", exec: "/usr/bin/openclaw", userName: "a", uid: 1000, gid: 1000)

    func identity(pid: Int64 = 812, profile: String = "twin", stateDir: String = "/home/a/.openclaw-twin") -> GatewayIdentity {
        GatewayIdentity(hello: ["type": "hello-ok",
                                "server": ["version": "0.1.0", "pid": .int(pid), "uid": 1000, "profile": .string(profile),
                                           "instanceId": "abc", "host": .string(GatewayIdentity.localHostName())],
                                "snapshot": ["stateDir": .string(stateDir)]])!
    }

    @Test func theUnitsMainProcessIsOurs() {
        #expect(identity().mismatch(target: target, installed: true, mainPID: 812, currentMainPID: { nil }) == nil)
    }

    @Test func socketActivationByTheProbeIsOursAfterOneRecheck() {
        var asked = 0
        let why = identity().mismatch(target: target, installed: true, mainPID: 0, currentMainPID: { asked += 1; return 812 })
        #expect(why == nil && asked == 1)
    }

    @Test func anotherProcessOnTheUnitsAddressIsNamed() {
        // Same profile, same state dir (a user unit beside a system unit run as the same account): the pid decides.
        let why = identity().mismatch(target: target, installed: true, mainPID: 0, currentMainPID: { 0 })
        #expect(why == "its pid 812 is not the main process of the unit (not running)")
    }

    @Test func withoutAUnitProfileAndStateDirDecide() {
        #expect(identity().mismatch(target: target, installed: false, mainPID: nil, currentMainPID: { nil }) == nil)
        #expect(identity(profile: "work").mismatch(target: target, installed: false, mainPID: nil, currentMainPID: { nil })
            == "it serves profile work, not twin")
        #expect(identity(stateDir: "/var/lib/openclaw").mismatch(target: target, installed: false, mainPID: nil,
                                                                 currentMainPID: { nil })?.contains("/var/lib/openclaw") == true)
    }

    @Test func anOldGatewayWithoutIdentityIsNotJudged() {
        #expect(GatewayIdentity(hello: ["type": "hello-ok", "server": ["version": "0.0.9"]]) == nil)
    }
}

@Suite struct RuntimeDirMessageTests {
    @Test func aRunningManagerWithoutXDGRuntimeDirIsNotCalledMissing() {
        let facts = HostFacts(systemdIsPID1: true, isWSL: false, hasRuntimeDir: false, isRoot: false,
                              userManagerRuns: true, uid: 1000)
        let text = facts.explainUnavailable(.user)
        #expect(text.contains("XDG_RUNTIME_DIR=/run/user/1000") && !text.contains("no systemd user manager"))
    }
}
