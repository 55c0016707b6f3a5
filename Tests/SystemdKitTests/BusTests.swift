import Glibc
import Testing
@testable import SystemdKit

@Suite struct BusPathTests {
    @Test func unitPathsUseLibsystemdEscaping() throws {
        #expect(try Bus.encodePath(prefix: "/org/freedesktop/systemd1/unit", id: "openclaw-gateway.service")
            == "/org/freedesktop/systemd1/unit/openclaw_2dgateway_2eservice")
        #expect(try Bus.encodePath(prefix: "/org/freedesktop/systemd1/unit", id: "user@1000.service")
            == "/org/freedesktop/systemd1/unit/user_401000_2eservice")
    }
}

@Suite struct BusErrorTests {
    @Test func missingUserBusIsManagerUnavailable() {
        #expect(SystemdError(call: "sd_bus_open_user", errno: -ENOMEDIUM).isManagerUnavailable)
        #expect(SystemdError(call: "Manager.ListUnits", errno: ENOTCONN, busErrorName: "System.Error.ENOTCONN")
            .isManagerUnavailable)
        #expect(SystemdError(call: "Manager.Reload", errno: EHOSTUNREACH,
                             busErrorName: "org.freedesktop.DBus.Error.ServiceUnknown").isManagerUnavailable)
        #expect(!SystemdError(call: "Manager.StartUnit", errno: ENOENT,
                              busErrorName: "org.freedesktop.systemd1.NoSuchUnit").isManagerUnavailable)
    }

    @Test func polkitRefusalIsAccessDenied() {
        let refused = SystemdError(call: "Manager.SetUserLinger", errno: EACCES,
                                   busErrorName: "org.freedesktop.DBus.Error.AccessDenied")
        #expect(refused.isAccessDenied && !refused.isManagerUnavailable)
        #expect(!SystemdError(call: "Manager.Reload", errno: ENOENT).isAccessDenied)
    }
}

@Suite struct UnitStateDecodingTests {
    @Test func serviceProperties() {
        let state = UnitState(name: "openclaw-gateway.service", properties: [
            "LoadState": .string("loaded"), "ActiveState": .string("active"), "SubState": .string("running"),
            "MainPID": .int(4242), "NRestarts": .int(3), "ActiveEnterTimestamp": .uint(1_700_000_000_000_000),
            "InactiveEnterTimestamp": .uint(0), "WorkingDirectory": .string("!/home/alice"),
            "ExecStart": .array([.tuple([
                .string("/usr/bin/openclaw"), .array([.string("/usr/bin/openclaw"), .string("gateway")]),
                .bool(false), .uint(0), .uint(0), .uint(0), .uint(0), .int(0), .int(0), .int(0),
            ])]),
        ])
        #expect(state.isActive && state.mainPID == 4242 && state.nRestarts == 3)
        #expect(state.activeEnterTimestamp == 1_700_000_000_000_000 && state.inactiveEnterTimestamp == nil)
        #expect(state.workingDirectory == "/home/alice")
        #expect(state.execStart == [ExecCommand(path: "/usr/bin/openclaw", argv: ["/usr/bin/openclaw", "gateway"])])
    }

    @Test func socketListenAndStoppedService() {
        let state = UnitState(name: "x.socket", properties: [
            "ActiveState": .string("inactive"), "MainPID": .int(0),
            "Listen": .array([.tuple([.string("Stream"), .string("127.0.0.1:18789")])]),
        ])
        #expect(!state.isActive && state.mainPID == nil)
        #expect(state.listen == [SocketListen(type: "Stream", address: "127.0.0.1:18789")])
    }

    @Test func listUnitsRow() {
        let row = BusValue.tuple(["a.service", "A", "loaded", "active", "running", "", "/p", "0", "", "/"]
            .map(BusValue.string))
        #expect(UnitListEntry(row) == UnitListEntry(name: "a.service", description: "A", loadState: "loaded",
                                                    activeState: "active", subState: "running"))
    }
}
