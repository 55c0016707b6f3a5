@testable import SystemdKit
import Testing

/// Which unit a process runs in, read from its /proc/self/cgroup (the gateway asks systemd about
/// that unit to tell stop from restart, and whether a restart hand-over has room).
@Suite struct OwnUnitCgroup {
    @Test(arguments: [
        ("0::/system.slice/openclaw-gateway.service\n", "openclaw-gateway.service", false),
        ("0::/user.slice/user-1000.slice/user@1000.service/app.slice/openclaw-gateway.service\n",
         "openclaw-gateway.service", true),
        // The user manager itself is a system unit.
        ("0::/user.slice/user-1000.slice/user@1000.service/init.scope\n", "init.scope", true),
        ("0::/user.slice/user-1000.slice/user@1000.service\n", "user@1000.service", false),
        // A delegated sub-cgroup, and cgroup v1 (hybrid): the systemd hierarchy's line counts.
        ("0::/system.slice/openclaw-gateway.service/payload\n", "openclaw-gateway.service", false),
        ("12:cpu,cpuacct:/\n1:name=systemd:/system.slice/ssh.service\n0::/\n", "ssh.service", false),
    ])
    func unitFromCgroup(text: String, unit: String, user: Bool) throws {
        let found = try #require(OwnUnit.unit(fromCgroup: text))
        #expect(found.name == unit && found.user == user)
    }

    @Test func notInAUnit() {
        #expect(OwnUnit.unit(fromCgroup: "0::/\n") == nil)
        #expect(OwnUnit.unit(fromCgroup: "") == nil)
        #expect(OwnUnit.unit(fromCgroup: "garbage") == nil)
    }
}
