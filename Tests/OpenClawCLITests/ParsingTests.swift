import JSONCore
@testable import OpenClawCLI
import Testing

private func parse(_ line: String) throws(UsageError) -> Invocation {
    try Invocation.parse(line.split(separator: " ").map(String.init))
}

/// The help text a command line asks for, or nil when it does not ask for help.
private func helpText(_ line: String) throws(UsageError) -> String? {
    if case .help(let text) = try parse(line).action { return text }
    return nil
}

private func usageError(_ line: String) -> UsageError? {
    do {
        _ = try parse(line)
        return nil
    } catch {
        return error
    }
}

@Suite struct GatewayRunParsing {
    @Test func bareGatewayRunsTheDaemon() throws {
        #expect(try parse("gateway").action == .runGateway(port: nil, bind: nil, verbose: false))
    }

    @Test func allFlags() throws {
        let inv = try parse("gateway --port 19001 --bind 0.0.0.0 --verbose --profile work")
        #expect(inv.action == .runGateway(port: 19001, bind: "0.0.0.0", verbose: true))
        #expect(inv.profile == "work")
    }

    @Test func equalsSyntax() throws {
        #expect(try parse("gateway --port=1234").action == .runGateway(port: 1234, bind: nil, verbose: false))
    }

    @Test(arguments: ["0", "65536", "abc", "-1", ""])
    func badPortIsAUsageError(_ port: String) {
        let error = usageError("gateway --port=\(port)")
        #expect(error?.message.contains("--port") == true)
        #expect(error?.command == "openclaw gateway")
    }

    @Test func portWithoutValue() {
        #expect(usageError("gateway --port")?.message == "Option '--port' needs a value N")
        #expect(usageError("gateway --port --verbose")?.message == "Option '--port' needs a value N")
    }
}

@Suite struct GlobalParsing {
    @Test func profileBeforeOrAfterTheCommand() throws {
        #expect(try parse("--profile a gateway status").profile == "a")
        #expect(try parse("gateway --profile b status").profile == "b")
        #expect(try parse("gateway status --profile c").profile == "c")
    }

    @Test func invalidProfile() {
        #expect(usageError("--profile Bad/Name logs")?.message.contains("Profile name") == true)
    }

    @Test func version() throws {
        #expect(try parse("--version").action == .version(json: false))
        #expect(try parse("--version --json").action == .version(json: true))
    }

    @Test func versionOnlyAtTheTop() {
        #expect(usageError("logs --version")?.message == "Unknown option '--version' for 'openclaw logs'")
    }

    @Test func noCommandIsAUsageError() {
        #expect(usageError("")?.message == "'openclaw' needs a command")
        #expect(usageError("message")?.message == "'openclaw message' needs a command")
    }

    @Test func unknownCommand() {
        #expect(usageError("frobnicate")?.message == "Unknown command 'frobnicate' for 'openclaw'")
        #expect(usageError("gateway frob")?.message == "Unknown command 'frob' for 'openclaw gateway'")
    }

    @Test func subcommandAfterOptions() {
        #expect(usageError("gateway --port 1 status")?.message
            == "Put 'status' before the options (openclaw gateway status …)")
    }

    @Test func unknownOption() {
        let error = usageError("logs --nope")
        #expect(error?.message == "Unknown option '--nope' for 'openclaw logs'")
        #expect(error?.description == "Unknown option '--nope' for 'openclaw logs' (see 'openclaw logs --help').")
        #expect(usageError("logs -x")?.message.contains("Unknown option '-x'") == true)
    }

    @Test func repeatedOption() {
        #expect(usageError("logs --limit 1 --limit 2")?.message == "Option '--limit' was given more than once")
    }

    @Test func flagWithValue() {
        #expect(usageError("logs --follow=yes")?.message == "Option '--follow' takes no value")
    }

    @Test func strayArgument() {
        #expect(usageError("logs extra")?.message == "Unexpected argument 'extra'")
    }

    /// Every command in the tree, so a new command cannot ship without working help.
    static let allCommands: [[String]] = {
        var result: [[String]] = []
        func walk(_ c: CommandSpec) {
            result.append(c.path)
            c.subcommands.forEach(walk)
        }
        walk(CommandTree.root)
        return result
    }()

    @Test(arguments: allCommands)
    func helpOnEveryCommand(_ path: [String]) throws {
        for flag in ["--help", "-h"] {
            guard case .help(let text) = try Invocation.parse(path + [flag]).action else {
                Issue.record("no help for \(path)")
                return
            }
            #expect(text.hasPrefix("Usage: " + (["openclaw"] + path).joined(separator: " ")))
            #expect(text.contains("--profile NAME"))
            #expect(text.contains("-h, --help"))
        }
    }

    @Test func helpWinsOverMistakes() throws {
        let text = try #require(try helpText("gateway status --bogus --help"))
        #expect(text.contains("--no-probe"))
        #expect(text.contains("Exit codes"))
    }

    @Test func rootHelpListsCommandsAndVersion() throws {
        let text = try #require(try helpText("--help"))
        for word in ["gateway", "logs", "message", "agent", "doctor", "--version", "NO_COLOR"] {
            #expect(text.contains(word))
        }
    }

    @Test func helpDocumentsEveryOption() throws {
        let text = try #require(try helpText("message send --help"))
        for option in CommandTree.messageSend.options {
            #expect(text.contains("--\(option.name)"))
        }
    }
}

@Suite struct ServiceParsing {
    @Test func install() throws {
        #expect(try parse("gateway install").action == .install(
            InstallRequest(force: false, port: nil, token: nil, system: false, userName: nil, json: false)))
        #expect(try parse("gateway install --force --port 18800 --token s3cret --system --user-name bob").action
            == .install(InstallRequest(force: true, port: 18800, token: "s3cret", system: true, userName: "bob", json: false)))
    }

    @Test func userNameNeedsSystem() {
        #expect(usageError("gateway install --user-name bob")?.message == "--user-name only applies with --system")
    }

    @Test func verbs() throws {
        #expect(try parse("gateway uninstall").action == .uninstall(system: false, purge: false, json: false))
        #expect(try parse("gateway uninstall --purge --yes --json").action
            == .uninstall(system: false, purge: true, json: true))
        #expect(try parse("gateway reload --system").action == .service(.reload, system: true, json: false))
        #expect(try parse("gateway token rotate").action == .rotateToken(system: false))
        #expect(try parse("gateway start").action == .service(.start, system: false, json: false))
        #expect(try parse("gateway stop --system").action == .service(.stop, system: true, json: false))
        #expect(try parse("gateway restart").action == .service(.restart, system: false, json: false))
    }

    @Test func purgeNeedsYes() {
        #expect(usageError("gateway uninstall --purge")?.message.contains("add --yes to confirm") == true)
        #expect(usageError("gateway uninstall --yes")?.message == "--yes only applies with --purge")
    }

    @Test func status() throws {
        #expect(try parse("gateway status").action == .status(
            StatusRequest(url: nil, deep: false, probe: true, json: false, system: false, probeTimeoutMs: nil)))
        #expect(try parse("gateway status --url ws://10.0.0.2:18789 --deep --json").action == .status(
            StatusRequest(url: "ws://10.0.0.2:18789", deep: true, probe: true, json: true, system: false, probeTimeoutMs: nil)))
        #expect(try parse("gateway status --no-probe").action == .status(
            StatusRequest(url: nil, deep: false, probe: false, json: false, system: false, probeTimeoutMs: nil)))
    }

    @Test func statusRefusesContradictions() {
        #expect(usageError("gateway status --no-probe --url ws://x:1")?.message == "--url and --no-probe contradict")
        #expect(usageError("gateway status --url http://x:1")?.message.contains("ws://") == true)
    }

    @Test func doctorBothSpellings() throws {
        #expect(try parse("doctor").action == .doctor(DoctorRequest(fix: false, system: false)))
        #expect(try parse("doctor --fix").action == .doctor(DoctorRequest(fix: true, system: false)))
        #expect(try parse("gateway doctor --fix").action == .doctor(DoctorRequest(fix: true, system: false)))
    }
}

@Suite struct RPCParsing {
    @Test func health() throws {
        #expect(try parse("gateway health").action == .health(RPCTarget(url: nil, token: nil), json: false))
        #expect(try parse("gateway health --json --url ws://127.0.0.1:1 --token t").action
            == .health(RPCTarget(url: "ws://127.0.0.1:1", token: "t"), json: true))
    }

    @Test func call() throws {
        let inv = try Invocation.parse(["gateway", "call", "logs.tail", "--params", #"{"limit": 5}"#, "--json"])
        #expect(inv.action == .call(RPCTarget(), CallRequest(
            method: "logs.tail", params: ["limit": 5], expectFinal: false, json: true)))
        #expect(try parse("gateway call status").action == .call(RPCTarget(), CallRequest(
            method: "status", params: [:], expectFinal: false, json: false)))
    }

    @Test func callErrors() {
        #expect(usageError("gateway call")?.message == "'openclaw gateway call' needs METHOD")
        #expect(usageError("gateway call a b")?.message == "Unexpected argument 'b'")
        let bad = try? Invocation.parse(["gateway", "call", "x", "--params", "{nope"])
        #expect(bad == nil)
        #expect(usageError("gateway call x --params {")?.message.hasPrefix("--params is not valid JSON") == true)
    }

    @Test func logs() throws {
        #expect(try parse("logs").action == .logs(RPCTarget(), LogsRequest(
            follow: false, limit: 200, intervalMs: 1000, json: false)))
        #expect(try parse("logs --follow --limit 5 --interval 100 --json").action == .logs(RPCTarget(), LogsRequest(
            follow: true, limit: 5, intervalMs: 100, json: true)))
        #expect(usageError("logs --limit 0")?.message.contains("from 1 to 5000") == true)
        #expect(usageError("logs --limit 5001") != nil)
        #expect(usageError("logs --limit --json")?.message == "Option '--limit' needs a value N")
    }

    @Test func messageSend() throws {
        let inv = try Invocation.parse([
            "message", "send", "--target", "#ops", "--message", "hi there", "--media", "http://a/1.png",
            "--media", "http://a/2.png", "--channel", "irc", "--idempotency-key", "k1", "--json",
        ])
        #expect(inv.action == .send(RPCTarget(), SendRequest(
            target: "#ops", message: "hi there", media: ["http://a/1.png", "http://a/2.png"], channel: "irc",
            idempotencyKey: "k1", json: true)))
    }

    @Test func messageValuesMayStartWithADash() throws {
        let inv = try Invocation.parse(["message", "send", "--target", "bob", "--message", "-- hi -x"])
        guard case .send(_, let request) = inv.action else {
            Issue.record("expected send")
            return
        }
        #expect(request.message == "-- hi -x")
    }

    /// Free text is taken as given: `-h`, `--help` or `--json` as the message are sent, not obeyed.
    @Test func messageTextThatLooksLikeAnOptionIsSent() throws {
        for text in ["-h", "--help", "--json", "-m"] {
            let inv = try Invocation.parse(["message", "send", "--target", "bob", "--message", text])
            guard case .send(_, let request) = inv.action else {
                Issue.record("expected send for \(text), got help or an error")
                continue
            }
            #expect(request.message == text)
        }
        let agent = try Invocation.parse(["agent", "--message", "-h"])
        guard case .agent = agent.action else {
            Issue.record("agent --message -h must ask the agent")
            return
        }
    }

    @Test func messageSendErrors() {
        #expect(usageError("message send --message hi")?.message == "--target is required")
        #expect(usageError("message send --target bob")?.message == "--message or --media is required")
        #expect(usageError("message send --target bob --message hi --idempotency-key=")?.message
            == "--idempotency-key must not be empty")
        #expect(usageError("message send --target bob --media a")?.message == nil)
    }

    @Test func agent() throws {
        #expect(try parse("agent --message hi").action == .agent(RPCTarget(), AgentRequest(
            message: "hi", to: nil, deliver: false, timeoutSeconds: nil, wait: true, json: false)))
        #expect(try parse("agent --message hi --to #ops --deliver --timeout 30 --no-wait --json").action
            == .agent(RPCTarget(), AgentRequest(
                message: "hi", to: "#ops", deliver: true, timeoutSeconds: 30, wait: false, json: true)))
    }

    /// `--system` reaches the system install of the profile; every RPC command takes it, and without it
    /// nothing changes.
    @Test(arguments: [
        "gateway health", "gateway call status", "logs", "message send --target bob --message hi",
        "agent --message hi",
    ])
    func systemFlag(_ line: String) throws {
        func target(_ line: String) throws -> RPCTarget? {
            switch try parse(line).action {
            case .health(let t, _), .call(let t, _), .logs(let t, _), .send(let t, _), .agent(let t, _): return t
            default: return nil
            }
        }
        #expect(try target(line) == RPCTarget())
        #expect(try target(line + " --system") == RPCTarget(url: nil, token: nil, system: true))
        #expect(try target("--profile rpc " + line + " --system --token t")
            == RPCTarget(url: nil, token: "t", system: true))
        let help = try #require(try helpText(line + " --help"))
        #expect(help.contains("--system"))
        #expect(help.contains("system install"))
    }

    @Test func systemFlagWithOtherOptions() throws {
        #expect(try parse("gateway call status --system --json").action == .call(
            RPCTarget(system: true), CallRequest(method: "status", params: [:], expectFinal: false, json: true)))
        #expect(try parse("logs --system --limit 5").action == .logs(
            RPCTarget(system: true), LogsRequest(follow: false, limit: 5, intervalMs: 1000, json: false)))
        #expect(usageError("gateway health --system=yes") != nil)
    }

    @Test func agentErrors() {
        #expect(usageError("agent")?.message == "--message is required")
        #expect(usageError("agent --message hi --deliver")?.message == "--deliver needs --to")
        #expect(usageError("agent --message hi --timeout 0")?.message.contains("--timeout") == true)
    }
}

@Suite struct LogFilterTests {
    @Test func sinceTakesDurationsAndUTCTimes() {
        let now: UInt64 = 1_800_000_000_000_000
        #expect(LogFilter.parseSince("10m", nowUsec: now) == now - 600_000_000)
        #expect(LogFilter.parseSince("2d", nowUsec: now) == now - 172_800_000_000)
        #expect(LogFilter.parseSince("2026-11-29 20:00", nowUsec: now) == 1_795_982_400_000_000)
        #expect(LogFilter.parseSince("2026-11-29T20:00:30Z", nowUsec: now) == 1_795_982_430_000_000)
        #expect(LogFilter.parseSince("yesterday-ish", nowUsec: now) == nil)
    }

    @Test func linesAreFilteredByLevelTimeAndPattern() throws {
        let invocation = try parse("logs --priority warning --grep refused --since 2026-11-29T20:00")
        guard case .logs(_, let request) = invocation.action else { Issue.record("not logs"); return }
        let matcher = request.filter.matcher()
        #expect(request.filter.accepts(line: "2026-11-29T21:00:00.000Z WARN auth REFUSED: x", matcher: matcher))
        #expect(!request.filter.accepts(line: "2026-11-29T21:00:00.000Z INFO auth refused", matcher: matcher))
        #expect(!request.filter.accepts(line: "2026-11-29T19:00:00.000Z ERROR auth refused", matcher: matcher))
        #expect(!request.filter.accepts(line: "2026-11-29T21:00:00.000Z ERROR bind failed", matcher: matcher))
        #expect(throws: UsageError.self) { try parse("logs --grep (") }
    }
}

@Suite struct SecretDestinationTests {
    let env = ["HOME": "/nonexistent-home", "OPENCLAW_GATEWAY_TOKEN": "local-secret"]

    @Test func aRemoteURLGetsNoLocalSecret() throws {
        let remote = try GatewayTarget.resolve(profile: nil, override: RPCTarget(url: "ws://203.0.113.5:18789"),
                                               environment: env)
        #expect(remote.token == nil && remote.password == nil)
        let given = try GatewayTarget.resolve(profile: nil, override: RPCTarget(url: "ws://203.0.113.5:1", token: "t"),
                                              environment: env)
        #expect(given.token == "t")
        let local = try GatewayTarget.resolve(profile: nil, override: RPCTarget(url: "ws://[::1]:18789"), environment: env)
        #expect(local.token == "local-secret")
        var remoteEnv = env
        remoteEnv["OPENCLAW_GATEWAY_URL"] = "ws://gateway.example.org:18789/"
        #expect(try GatewayTarget.resolve(profile: nil, override: RPCTarget(), environment: remoteEnv).token == nil)
    }
}
