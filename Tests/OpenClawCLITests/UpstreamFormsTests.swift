import JSONCore
@testable import OpenClawCLI
import Testing

/// The spellings upstream's users and scripts type (issue 13): each parses to the same
/// action as this CLI's own spelling, and each is in `--help`.
@Suite struct UpstreamForms {
    private func parse(_ words: String...) throws(UsageError) -> Invocation.Action {
        try Invocation.parse(words).action
    }

    private func help(_ words: String...) throws -> String {
        guard case .help(let text) = try Invocation.parse(words + ["--help"]).action else {
            Issue.record("no help for \(words)")
            return ""
        }
        return text
    }

    @Test func gatewayRun() throws {
        #expect(try parse("gateway", "run", "--port", "18800", "--verbose")
            == .runGateway(port: 18800, bind: nil, verbose: true))
        #expect(try help("gateway").contains("run "))
    }

    @Test func messageSendShortOptions() throws {
        let long = try parse("message", "send", "--target", "#ops", "--message", "hi")
        #expect(try parse("message", "send", "-t", "#ops", "-m", "hi") == long)
        #expect(try help("message", "send").contains("-t, --target TO"))
        #expect(try help("message", "send").contains("-m, --message TEXT"))
        #expect(throws: UsageError.self) { try parse("message", "send", "-t", "-m", "hi") }
        #expect(throws: UsageError.self) { try parse("message", "send", "-x", "1") }
    }

    @Test func timeoutOnEveryCommandThatTalksToTheGateway() throws {
        let target = RPCTarget(url: nil, token: nil, system: false, timeoutMs: 1500)
        #expect(try parse("gateway", "health", "--timeout", "1500") == .health(target, json: false))
        #expect(try parse("health", "--timeout", "1500") == .health(target, json: false))
        #expect(try parse("logs", "--timeout", "1500")
            == .logs(target, LogsRequest(follow: false, limit: 200, intervalMs: 1000, json: false)))
        guard case .send(let sendTarget, _) = try parse("message", "send", "-t", "x", "-m", "y", "--timeout", "1500")
        else { Issue.record("not a send"); return }
        #expect(sendTarget == target)
        guard case .call(let callTarget, _) = try parse("gateway", "call", "status", "--timeout", "1500")
        else { Issue.record("not a call"); return }
        #expect(callTarget == target)
        guard case .status(let status) = try parse("status", "--timeout", "1500") else { Issue.record("not status"); return }
        #expect(status.probeTimeoutMs == 1500)
        // agent's --timeout stays the run's bound in seconds.
        guard case .agent(let agentTarget, let request) = try parse("agent", "--message", "m", "--timeout", "60")
        else { Issue.record("not an agent run"); return }
        #expect(agentTarget.timeoutMs == nil && request.timeoutSeconds == 60)
        for words in [["health"], ["gateway", "health"], ["logs"], ["message", "send"], ["gateway", "call"], ["status"]] {
            let text = try Invocation.parse(words + ["--help"])
            guard case .help(let h) = text.action else { continue }
            #expect(h.contains("--timeout"), "\(words) --help lacks --timeout")
        }
        #expect(throws: UsageError.self) { try parse("health", "--timeout", "0") }
    }

    @Test func callExpectFinal() throws {
        #expect(try parse("gateway", "call", "agent", "--expect-final")
            == .call(RPCTarget(), CallRequest(method: "agent", params: [:], expectFinal: true, json: false)))
        #expect(try help("gateway", "call").contains("--expect-final"))
    }

    @Test func lifecycleJSON() throws {
        #expect(try parse("gateway", "stop", "--json") == .service(.stop, system: false, json: true))
        #expect(try parse("gateway", "restart", "--json", "--system") == .service(.restart, system: true, json: true))
        guard case .install(let request) = try parse("gateway", "install", "--json") else { Issue.record("no install"); return }
        #expect(request.json)
        for verb in ["install", "uninstall", "start", "stop", "restart"] {
            #expect(try help("gateway", verb).contains("--json"))
        }
    }

    @Test func topLevelHealthAndStatus() throws {
        #expect(try parse("health", "--json") == parse("gateway", "health", "--json"))
        #expect(try parse("status", "--deep") == parse("gateway", "status", "--deep"))
        let root = try Invocation.parse(["--help"])
        guard case .help(let text) = root.action else { return }
        #expect(text.contains("  status ") && text.contains("  health "))
    }

    @Test func doctorRepairIsFix() throws {
        #expect(try parse("doctor", "--repair") == .doctor(DoctorRequest(fix: true, system: false)))
        #expect(try parse("gateway", "doctor", "--repair") == .doctor(DoctorRequest(fix: true, system: false)))
        #expect(try help("doctor").contains("--repair"))
    }
}
