import SystemdKit
import Testing

@testable import ServiceManager

@Suite struct LastErrorTests {
    func line(_ message: String, priority: Int, at usec: UInt64, _ fields: [String: String] = [:]) -> JournalLine {
        JournalLine(cursor: "c\(usec)", realtimeUsec: usec, priority: priority, message: message, fields: fields)
    }

    let socketRun = GatewayService.LatestRun(invocationID: "bbbb", startedUsec: 2_000)

    @Test func theSpecificLineBeatsTheGenericSummary() {
        let lines = [
            line("openclaw-gateway.socket: Failed to create listening socket (127.0.0.1:18789): Address already in use",
                 priority: 3, at: 2_001, ["USER_INVOCATION_ID": "bbbb"]),
            line("openclaw-gateway.socket: Failed to listen on sockets: Address already in use", priority: 3, at: 2_002,
                 ["USER_INVOCATION_ID": "bbbb"]),
            line("openclaw-gateway.socket: Failed with result 'resources'.", priority: 4, at: 2_003,
                 ["USER_INVOCATION_ID": "bbbb"]),
        ]
        #expect(GatewayService.cause(among: lines, runs: [socketRun])?.contains("Failed to create listening socket") == true)
    }

    @Test func infoLinesAndEarlierRunsAreNotTheCause() {
        let lines = [
            line("gateway exited: bad config", priority: 3, at: 1_000, ["_SYSTEMD_INVOCATION_ID": "aaaa"]),
            line("client connected", priority: 6, at: 2_500, ["_SYSTEMD_INVOCATION_ID": "bbbb"]),
            line("old line without id", priority: 3, at: 1_500),
        ]
        #expect(GatewayService.cause(among: lines, runs: [socketRun]) == nil)
    }

    @Test func aLineWithoutAnIdCountsFromTheLatestStart() {
        let lines = [line("Failed to bind", priority: 3, at: 2_100)]
        #expect(GatewayService.cause(among: lines, runs: [socketRun]) == "Failed to bind")
    }
}
