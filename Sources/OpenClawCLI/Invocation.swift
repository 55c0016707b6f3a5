import Gateway
import JSONCore
import OpenClawConfig

/// What the user asked for, with every value checked and typed. Parsing ends here;
/// nothing in this file touches the network, systemd or the file system.
public struct Invocation: Sendable, Equatable {
    public var profile: String?
    public var action: Action

    public enum Action: Sendable, Equatable {
        case help(String)
        case version(json: Bool)
        case completion(shell: String)
        case manual
        case runGateway(port: Int?, bind: String?, verbose: Bool)
        case install(InstallRequest)
        case service(ServiceVerb, system: Bool, json: Bool)
        case uninstall(system: Bool, purge: Bool, json: Bool)
        case rotateToken(system: Bool)
        case status(StatusRequest)
        case doctor(DoctorRequest)
        case health(RPCTarget, json: Bool)
        case call(RPCTarget, CallRequest)
        case logs(RPCTarget, LogsRequest)
        case send(RPCTarget, SendRequest)
        case agent(RPCTarget, AgentRequest)
        case sessions(RPCTarget, SessionsRequest)
    }

    public enum ServiceVerb: String, Sendable, Equatable {
        case start, stop, restart, reload
    }

    /// Reads a command line. Usage mistakes throw; `--help` and `--version` always succeed.
    public static func parse(_ arguments: [String]) throws(UsageError) -> Invocation {
        let parsed = try ArgumentParser(root: CommandTree.root).parse(arguments)
        let profile = parsed.value("profile")
        if parsed.wantsHelp { return Invocation(profile: profile, action: .help(Help.render(parsed.command))) }
        if parsed.wantsVersion { return Invocation(profile: profile, action: .version(json: parsed.flag("json"))) }
        if let profile, !OpenClawPaths.isValidProfileName(profile) {
            throw UsageError(
                "Profile name '\(profile)' must be 1-32 characters a-z, 0-9, '-' or '_'", command: parsed.command)
        }
        return Invocation(profile: profile, action: try action(parsed))
    }

    private static func action(_ p: ParsedArguments) throws(UsageError) -> Action {
        let values = Values(parsed: p)
        switch p.command.path {
        case ["gateway"], ["gateway", "run"]:
            return .runGateway(port: try values.port(), bind: p.value("bind"), verbose: p.flag("verbose"))
        case ["gateway", "install"]:
            if p.value("user-name") != nil && !p.flag("system") {
                throw values.error("--user-name only applies with --system")
            }
            if let token = p.value("token"), token.isEmpty { throw values.error("--token must not be empty") }
            return .install(InstallRequest(
                force: p.flag("force"), port: try values.port(), token: p.value("token"), system: p.flag("system"),
                userName: p.value("user-name"), json: p.flag("json")))
        case ["completion"]: return .completion(shell: p.positionals[0])
        case ["manual"]: return .manual
        case ["gateway", "uninstall"]:
            if p.flag("purge") && !p.flag("yes") {
                throw values.error("--purge deletes the profile's state directory (token, config, send ledger) for "
                    + "good: add --yes to confirm")
            }
            if p.flag("yes") && !p.flag("purge") { throw values.error("--yes only applies with --purge") }
            return .uninstall(system: p.flag("system"), purge: p.flag("purge"), json: p.flag("json"))
        case ["gateway", "token", "rotate"]: return .rotateToken(system: p.flag("system"))
        case ["gateway", "start"], ["gateway", "stop"], ["gateway", "restart"], ["gateway", "reload"]:
            return .service(ServiceVerb(rawValue: p.command.path[1])!, system: p.flag("system"), json: p.flag("json"))
        case ["gateway", "status"], ["status"]:
            if p.flag("no-probe") && p.value("url") != nil { throw values.error("--url and --no-probe contradict") }
            if p.flag("no-probe") && p.value("timeout") != nil { throw values.error("--timeout and --no-probe contradict") }
            return .status(StatusRequest(
                url: try values.url(), deep: p.flag("deep"), probe: !p.flag("no-probe"), json: p.flag("json"),
                system: p.flag("system"), probeTimeoutMs: try values.timeout()))
        case ["gateway", "doctor"], ["doctor"]:
            return .doctor(DoctorRequest(fix: p.flag("fix") || p.flag("repair"), system: p.flag("system"),
                                         json: p.flag("json")))
        case ["gateway", "health"], ["health"]:
            return .health(try values.target(), json: p.flag("json"))
        case ["gateway", "call"]:
            return .call(try values.target(), CallRequest(
                method: p.positionals[0], params: try values.jsonParams(), expectFinal: p.flag("expect-final"),
                json: p.flag("json")))
        case ["logs"]:
            return .logs(try values.target(), LogsRequest(
                follow: p.flag("follow"), limit: try values.integer("limit", in: 1...5000) ?? 200,
                intervalMs: try values.integer("interval", in: 50...60_000) ?? 1000, json: p.flag("json"),
                filter: try values.logFilter()))
        case ["message", "send"]:
            guard let target = p.value("target"), !target.isEmpty else { throw values.error("--target is required") }
            let media = p.all("media")
            if p.value("message") == nil && media.isEmpty { throw values.error("--message or --media is required") }
            if let key = p.value("idempotency-key"), key.isEmpty {
                throw values.error("--idempotency-key must not be empty")
            }
            return .send(try values.target(), SendRequest(
                target: target, message: p.value("message"), media: media, channel: p.value("channel"),
                idempotencyKey: p.value("idempotency-key"), json: p.flag("json")))
        case ["agent"]:
            guard let message = p.value("message"), !message.isEmpty else {
                throw values.error("--message is required")
            }
            if p.flag("deliver") && p.value("to") == nil { throw values.error("--deliver needs --to") }
            if let session = p.value("session"), session.isEmpty { throw values.error("--session must not be empty") }
            return .agent(try values.target(), AgentRequest(
                message: message, to: p.value("to"), session: p.value("session"), deliver: p.flag("deliver"),
                timeoutSeconds: try values.integer("timeout", in: 1...86_400), wait: !p.flag("no-wait"),
                json: p.flag("json")))
        case ["sessions", "list"]:
            return .sessions(try values.target(), SessionsRequest(
                key: nil, limit: try values.integer("limit", in: 1...1_000_000), json: p.flag("json")))
        case ["sessions", "history"]:
            return .sessions(try values.target(), SessionsRequest(
                key: p.positionals[0], limit: try values.integer("limit", in: 1...1_000), json: p.flag("json")))
        default:
            throw values.error("'\(p.command.displayName)' is not a command")
        }
    }
}

/// Typed readers over a parsed command line; each mistake becomes a `UsageError` naming the option.
private struct Values {
    let parsed: ParsedArguments

    func error(_ message: String) -> UsageError { UsageError(message, command: parsed.command) }

    func integer(_ name: String, in range: ClosedRange<Int>) throws(UsageError) -> Int? {
        guard let text = parsed.value(name) else { return nil }
        guard let number = Int(text), range.contains(number) else {
            throw error("--\(name) must be a whole number from \(range.lowerBound) to \(range.upperBound), not '\(text)'")
        }
        return number
    }

    func port() throws(UsageError) -> Int? { try integer("port", in: 1...65535) }

    /// `--timeout MS` of the commands that talk to the gateway.
    func timeout() throws(UsageError) -> Int? { try integer("timeout", in: 1...3_600_000) }

    func url() throws(UsageError) -> String? {
        guard let url = parsed.value("url") else { return nil }
        // The client speaks plain ws:// only (no TLS); say so here rather than after a connect attempt.
        guard url.hasPrefix("ws://"), url.count > 5 else {
            throw error("--url must be a ws:// URL such as ws://127.0.0.1:18789, not '\(url)'")
        }
        return url
    }

    func target() throws(UsageError) -> RPCTarget {
        if let token = parsed.value("token"), token.isEmpty { throw error("--token must not be empty") }
        // `agent --timeout` is the run's bound in seconds, not the RPC timeout.
        let timeoutMs = parsed.command.path == ["agent"] ? nil : try timeout()
        return RPCTarget(url: try url(), token: parsed.value("token"), system: parsed.flag("system"), timeoutMs: timeoutMs)
    }

    func logFilter() throws(UsageError) -> LogFilter {
        var filter = LogFilter()
        if let since = parsed.value("since") {
            guard let usec = LogFilter.parseSince(since, nowUsec: LogFilter.nowUsec()) else {
                throw error("--since must be like 10m, 2h, 1d or 'YYYY-MM-DD HH:MM[:SS]' (UTC), not '\(since)'")
            }
            filter.sinceUsec = usec
        }
        if let name = parsed.value("priority") {
            guard let level = JournalView.priority(named: name) else {
                throw error("--priority must be emerg, alert, crit, err, warning, notice, info, debug or 0-7, not '\(name)'")
            }
            filter.maxPriority = level
        }
        if let pattern = parsed.value("grep") {
            guard LogFilter.regex(pattern) != nil else {
                throw error("--grep is not a valid regular expression: '\(pattern)'")
            }
            filter.grep = pattern
        }
        return filter
    }

    func jsonParams() throws(UsageError) -> JSONValue {
        guard let text = parsed.value("params") else { return [:] }
        do {
            return try JSONValue.parse(text)
        } catch {
            throw self.error("--params is not valid JSON (\(error))")
        }
    }
}

/// Where an RPC command connects, when the user overrides the config.
public struct RPCTarget: Sendable, Equatable {
    public var url: String?
    public var token: String?
    /// The profile's system install instead of the caller's own config (`--system`).
    public var system = false
    /// `--timeout MS`: bounds the connect and each answer (nil: the client's defaults).
    public var timeoutMs: Int?
}

public struct InstallRequest: Sendable, Equatable {
    public var force: Bool
    public var port: Int?
    public var token: String?
    public var system: Bool
    public var userName: String?
    public var json: Bool
}

public struct StatusRequest: Sendable, Equatable {
    public var url: String?
    public var deep: Bool
    public var probe: Bool
    public var json: Bool
    public var system: Bool
    /// `--timeout MS` for the RPC probe (nil: its default).
    public var probeTimeoutMs: Int?
}

public struct DoctorRequest: Sendable, Equatable {
    public var fix: Bool
    public var system: Bool
    public var json = false
}

public struct CallRequest: Sendable, Equatable {
    public var method: String
    public var params: JSONValue
    /// `--expect-final`: skip `{status:"accepted"}` answers and return the final one.
    public var expectFinal: Bool
    public var json: Bool
}

public struct LogsRequest: Sendable, Equatable {
    public var follow: Bool
    public var limit: Int
    public var intervalMs: Int
    public var json: Bool
    public var filter = LogFilter()
}

public struct SendRequest: Sendable, Equatable {
    public var target: String
    public var message: String?
    public var media: [String]
    public var channel: String?
    public var idempotencyKey: String?
    public var json: Bool
}

public struct AgentRequest: Sendable, Equatable {
    public var message: String
    public var to: String?
    public var session: String?
    public var deliver: Bool
    public var timeoutSeconds: Int?
    public var wait: Bool
    public var json: Bool
}

/// `sessions list` (no key) or `sessions history KEY`.
public struct SessionsRequest: Sendable, Equatable {
    public var key: String?
    public var limit: Int?
    public var json: Bool
}
