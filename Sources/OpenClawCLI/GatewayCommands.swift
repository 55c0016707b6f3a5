import Glibc
import GatewayClient
import GatewayProtocol
import JSONCore
import OpenClawConfig
import ServiceManager

/// The commands that talk to a running gateway over its WebSocket: `gateway
/// health`, `gateway call`, `logs`, `message send`, `agent`.
///
/// None of them has a fallback: when the gateway does not answer they fail
/// with the client's one-sentence error naming the URL (G2).
struct GatewayCommands {
    let terminal: Terminal
    let environment: [String: String]
    let profile: String?

    static let identity = ClientIdentity(version: BuildInfo.version)

    func resolve(_ override: RPCTarget) throws(CommandFailure) -> GatewayTarget {
        if override.system { return try resolveSystem(override) }
        do {
            return try GatewayTarget.resolve(profile: profile, override: override, environment: environment) { settings in
                // Only a config secret can disagree with the installed unit's credential: then ask the unit.
                guard settings.secretSource == "config",
                      let service = try? ServiceCommands(terminal: terminal, environment: environment, profile: profile)
                          .service(system: false) else { return settings }
                return service.presented(settings, credentialPath: service.credentialPath())
            }
        } catch {
            throw CommandFailure(error.description)
        }
    }

    /// `--system`: the install the service commands act on (state of the unit's `User=`), not the
    /// caller's config, so `sudo openclaw gateway health --system` needs neither --url nor a token.
    private func resolveSystem(_ override: RPCTarget) throws(CommandFailure) -> GatewayTarget {
        let service = try ServiceCommands(terminal: terminal, environment: environment, profile: profile)
            .service(system: true)
        do {
            let endpoint = try service.endpoint(url: override.url, token: override.token)
            return GatewayTarget(url: endpoint.url, token: endpoint.token, password: endpoint.password,
                                 configPath: endpoint.configPath)
        } catch .notInstalled(let unit, let install) {
            throw CommandFailure("\(unit) is not installed as a system service: install it with `sudo \(install)`, "
                + "or leave out --system to reach your own gateway", exitCode: CLI.Exit.notInstalled)
        } catch {
            throw CommandFailure(error)
        }
    }

    /// `timeoutMs` (`--timeout`) bounds the connect and each answer; without it, 10 s and `requestTimeoutMs`.
    func connect(_ target: GatewayTarget, timeoutMs: Int? = nil, requestTimeoutMs: Int = 30_000)
        throws(CommandFailure) -> GatewayConnection
    {
        do {
            return try GatewayConnection.connect(
                url: target.url, token: target.token, password: target.password, identity: Self.identity,
                connectTimeoutMs: timeoutMs ?? 10_000, requestTimeoutMs: timeoutMs ?? requestTimeoutMs)
        } catch {
            throw CommandFailure(error)
        }
    }

    /// One request on a fresh connection. With `expectFinal`, answers `{status:"accepted"}` are
    /// skipped and the final one is returned (upstream's expectFinal, for `agent`).
    func call(_ target: GatewayTarget, _ method: String, params: JSONValue = [:], timeoutMs: Int? = nil,
              expectFinal: Bool = false) throws(CommandFailure) -> JSONValue
    {
        let connection = try connect(target, timeoutMs: timeoutMs)
        defer { connection.close() }
        do {
            guard expectFinal else { return try connection.call(method, params: params) }
            return try connection.stream(method, params: params, timeoutMs: nil, onEvent: { _, _ in },
                                         onResponse: { $0["status"]?.stringValue != "accepted" })
        } catch {
            throw CommandFailure(error)
        }
    }

    // MARK: gateway health

    func health(_ override: RPCTarget, json: Bool) throws(CommandFailure) -> Int32 {
        let target = try resolve(override)
        let health = try call(target, "health", timeoutMs: override.timeoutMs)
        if json {
            terminal.line(health.prettyPrinted())
        } else {
            terminal.line(HealthText.render(health, paint: terminal.paint))
        }
        guard health["ok"]?.boolValue == true else {
            throw CommandFailure("The gateway at \(target.url) answers but reports itself unhealthy (a configured "
                + "channel is down); `openclaw gateway status` shows each channel's last error.")
        }
        return CLI.Exit.ok
    }

    // MARK: gateway call

    func call(_ override: RPCTarget, _ request: CallRequest) throws(CommandFailure) -> Int32 {
        let result = try call(try resolve(override), request.method, params: request.params,
                              timeoutMs: override.timeoutMs, expectFinal: request.expectFinal)
        terminal.line(request.json ? result.jsonString : result.prettyPrinted())
        return CLI.Exit.ok
    }

    // MARK: message send

    func send(_ override: RPCTarget, _ request: SendRequest) throws(CommandFailure) -> Int32 {
        let key = request.idempotencyKey ?? IdempotencyKey.generate()
        if request.idempotencyKey == nil {
            // Printed before sending, so a send that fails or hangs can be retried without a second delivery.
            terminal.note("Idempotency key: \(key) (retry with --idempotency-key \(key))")
        }
        var params = JSONObject()
        params["to"] = .string(request.target)
        if let message = request.message { params["message"] = .string(message) }
        if request.media.count == 1 { params["mediaUrl"] = .string(request.media[0]) }
        if request.media.count > 1 { params["mediaUrls"] = .array(request.media.map(JSONValue.string)) }
        if let channel = request.channel { params["channel"] = .string(channel) }
        params["idempotencyKey"] = .string(key)

        let result: JSONValue
        do {
            result = try call(try resolve(override), "send", params: .object(params), timeoutMs: override.timeoutMs)
        } catch {
            throw CommandFailure(error.message.dropLastPeriod() + "; retry with --idempotency-key \(key) to send at most once.")
        }
        if request.json {
            var document = result.objectValue ?? JSONObject()
            document["idempotencyKey"] = .string(key)
            terminal.line(JSONValue.object(document).prettyPrinted())
        } else {
            let channel = result["channel"]?.stringValue ?? request.channel ?? "the default channel"
            let id = result["messageId"]?.stringValue ?? "?"
            terminal.line("Sent to \(request.target) on \(channel) (message id \(id), idempotency key \(key)).")
        }
        return CLI.Exit.ok
    }
}

extension GatewayCommands {
    // MARK: agent

    /// Runs one turn: the gateway answers `accepted` (with the run id), streams `agent` events, then the
    /// final response on the same request id. Events are broadcast to every client, so only this run's count.
    func agent(_ override: RPCTarget, _ request: AgentRequest) throws(CommandFailure) -> Int32 {
        var params = JSONObject()
        params["message"] = .string(request.message)
        if let to = request.to { params["to"] = .string(to) }
        if let session = request.session { params["sessionKey"] = .string(session) }
        if request.deliver { params["deliver"] = true }
        if let timeout = request.timeoutSeconds { params["timeout"] = .int(Int64(timeout)) }
        params["idempotencyKey"] = .string(IdempotencyKey.generate())

        // The gateway bounds the run (its timeout, then AGENT_TIMEOUT) and a dead link is noticed by the
        // tick watchdog, so the CLI's own bound only has to be longer than any run may last.
        let waitMs = ((request.timeoutSeconds ?? 86_400) + 30) * 1000
        let connection = try connect(try resolve(override), requestTimeoutMs: waitMs)
        defer { connection.close() }

        var runId: String?
        var early: [JSONValue] = []
        var streamed = false
        var endsWithNewline = true
        func show(_ event: JSONValue) {
            guard event["runId"]?.stringValue == runId, event["stream"]?.stringValue == "assistant",
                  let text = event["data"]?["text"]?.stringValue, !text.isEmpty else { return }
            streamed = true
            endsWithNewline = text.hasSuffix("\n")
            if !request.json { terminal.gatewayText(text) }
        }
        let answer: JSONValue
        do {
            answer = try connection.stream(
                "agent", params: .object(params), timeoutMs: waitMs,
                onEvent: { name, payload in
                    guard name == "agent", let payload else { return }
                    if runId == nil { early.append(payload) } else { show(payload) }
                },
                onResponse: { payload in
                    guard payload["status"]?.stringValue == "accepted" else { return true }
                    runId = payload["runId"]?.stringValue
                    early.forEach(show)
                    early = []
                    return !request.wait
                })
        } catch {
            if streamed && !endsWithNewline && !request.json { terminal.write("\n") }
            throw CommandFailure(error)
        }

        if request.json {
            terminal.line(answer.prettyPrinted())
        } else if !request.wait {
            terminal.line("Accepted: run id \(answer["runId"]?.stringValue ?? "?") "
                + "(wait for it with `openclaw gateway call agent.wait --params '{\"runId\":\"…\"}'`).")
        } else if !streamed {
            terminal.gatewayText(answer["result"]?["text"]?.stringValue ?? "")
        } else if !endsWithNewline {
            terminal.write("\n")
        }
        guard request.wait else { return CLI.Exit.ok }
        let status = answer["status"]?.stringValue ?? "unknown"
        let id = answer["runId"]?.stringValue ?? runId ?? "?"
        if status != "ok" {
            let why = answer["error"]?["message"]?.stringValue.map { ": \($0)" } ?? ""
            throw CommandFailure("The agent run \(id) ended with status \(status)\(why).")
        }
        if answer["deliveryStatus"]?.stringValue == "failed" {
            let why = answer["deliveryError"]?["message"]?.stringValue ?? "unknown error"
            throw CommandFailure("The agent run \(id) finished but delivering its reply to \(request.to ?? "?") failed: \(why).")
        }
        return CLI.Exit.ok
    }
}

/// A command's failure: the one sentence printed after `error:` and the exit code.
struct CommandFailure: Error {
    let message: String
    let exitCode: Int32

    init(_ message: String, exitCode: Int32 = CLI.Exit.failure) {
        self.message = message
        self.exitCode = exitCode
    }

    /// A refusal of our secret has its own exit code (README): the gateway is up, the secret is wrong.
    init(_ error: GatewayClientError) {
        self.init(error.description, exitCode: error.authRefusal != nil ? CLI.Exit.authRefused : CLI.Exit.failure)
    }

    init(_ error: ServiceError) {
        let code: Int32
        switch error {
        case .authRefused: code = CLI.Exit.authRefused
        case .otherGateway: code = CLI.Exit.otherGateway
        case .notInstalled: code = CLI.Exit.notInstalled
        case .installUndone(let inner, _): code = CommandFailure(inner).exitCode
        default: code = CLI.Exit.failure
        }
        self.init(error.description, exitCode: code)
    }
}
