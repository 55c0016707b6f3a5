import Glibc
import GatewayProtocol
import JSONCore
import NetIO
import OpenClawConfig

/// Registers `send`, `agent`, `agent.wait` and the session methods (`sessions.list`,
/// `chat.history`, `chat.send`), and routes inbound messages to agent turns. The send ledger is opened once
/// and survives reloads; the agent backend follows them.
enum Messaging {
    static let ledgerFile = "send-ledger.jsonl"

    static func install(on server: GatewayServer) throws(ConfigError) {
        let dir = server.settings.paths.stateDir
        if mkdir(dir, 0o700) != 0 && errno != EEXIST {
            // Not fatal: the ledger reports the fault (health, refused sends) and retries.
            server.log.error("cannot create the state directory \(dir): \(String(cString: strerror(errno)))")
        }
        let ledger = SendLedger(path: dir + "/" + ledgerFile)
        if ledger.skippedOnLoad > 0 {
            server.log.warning("send ledger: skipped \(ledger.skippedOnLoad) torn or unreadable line(s) in \(ledger.path)")
        }
        let crashHook = getenv("OPENCLAW_TEST_CRASH_AFTER_LEDGER_WRITE").map { String(cString: $0) } == "1"
        if crashHook {
            server.log.warning("OPENCLAW_TEST_CRASH_AFTER_LEDGER_WRITE=1: test-only hook, the gateway kills itself after the next send's ledger write")
        }
        installSessions(on: server, stateDir: dir)
        let sender = SendService(server: server, ledger: ledger, crashAfterLedgerWrite: crashHook)
        server.stores.append(StoreHealth(name: "sendLedger", path: ledger.path) { ledger.fault.map { ($0.cause, $0.sinceMs) } })
        server.registerMethod("send") { call in sender.handle(call) }

        let agents = try AgentRunner(server: server, sender: sender)
        server.registerMethod("agent") { call in agents.handleAgent(call) }
        server.registerMethod("agent.wait") { call in agents.handleWait(call) }
        let turns = SessionTurns(server: server, store: server.sessions, runner: agents)
        agents.turns = turns
        turns.register()
        server.channels.onInbound = { message in turns.inbound(message) }
        server.agentStatus = { agents.statusJSON() }
        server.channels.onStop.append { agents.stopAll() }
        server.channels.reloadSteps.append(agents.prepareReload)
    }
}

extension Messaging {
    /// Opens the session store. When its directory cannot be opened, or a transcript
    /// write fails (ENOSPC, EIO, read-only), the gateway keeps serving, `storage.sessions`
    /// shows the cause, and the store is retried every `SendService.recoveryIntervalMs`
    /// until a durable write works again.
    static func installSessions(on server: GatewayServer, stateDir: String) {
        let store: SessionStore
        do {
            store = try SessionStore(stateDir: stateDir)
        } catch {
            store = SessionStore(unavailable: stateDir, cause: error.description)
        }
        var retry: TimerID?
        store.onFaultChange = { [unowned server] in
            if let fault = store.fault {
                server.log.error("sessions: \(fault.cause); transcripts are not recorded until it works again")
                if retry == nil {
                    retry = server.loop.scheduleRepeating(everyMs: SendService.recoveryIntervalMs) { _ = store.reopen() }
                }
            } else {
                server.log.info("sessions: recording again in \(store.directory)")
                if let timer = retry { server.loop.cancel(timer) }
                retry = nil
            }
            server.healthDidChange()
        }
        if store.fault != nil { store.onFaultChange?() }
        server.sessions = store
        server.stores.append(StoreHealth(name: "sessions", path: store.directory) { store.fault })
        SessionMethods.register(on: server, store: store)
    }
}

/// `send`: validation, routing to a channel, and the idempotency ledger.
final class SendService {
    struct Request {
        var to: String
        var text: String
        var channel: String?
        var idempotencyKey: String
        /// Identifies the payload under its key (a used key with another payload is refused).
        var hash: String
        /// Who asked: channels bound their queues per sender.
        var sender = ""
    }

    /// At most this many bytes of text per message (IRC would need ~35 lines for it).
    static let maxMessageBytes = 16 * 1024
    /// At most this many bytes of recipient, for any channel (IRC's own limit is lower).
    static let maxRecipientBytes = 512

    private unowned let server: GatewayServer
    private let ledger: SendLedger
    private let crashAfterLedgerWrite: Bool
    /// Callers waiting on a key this process is sending right now.
    private var waiters: [String: [(Result<JSONValue, RPCError>) -> Void]] = [:]

    /// Retries `ledger.recover()` while the ledger is faulted.
    private var recoveryTimer: TimerID?
    static let recoveryIntervalMs: Int64 = 2000

    init(server: GatewayServer, ledger: SendLedger, crashAfterLedgerWrite: Bool) {
        self.server = server
        self.ledger = ledger
        self.crashAfterLedgerWrite = crashAfterLedgerWrite
        ledger.onFaultChange = { [unowned self] fault in self.ledgerFaultChanged(fault) }
        if let fault = ledger.fault { ledgerFaultChanged(fault) }
    }

    /// Logs the fault or the recovery, updates `health`, and keeps retrying
    /// while faulted, so the ledger records again by itself once space returns.
    private func ledgerFaultChanged(_ fault: SendLedger.Fault?) {
        if let fault {
            server.log.error("send ledger: \(fault.cause); sends are refused until it can record again",
                             fields: [("OPENCLAW_LEDGER", ledger.path)])
            if recoveryTimer == nil {
                recoveryTimer = server.loop.scheduleRepeating(everyMs: Self.recoveryIntervalMs) { [unowned self] in
                    self.ledger.recover()
                }
            }
        } else {
            server.log.info("send ledger: recording again in \(ledger.path)", fields: [("OPENCLAW_LEDGER", ledger.path)])
            if let timer = recoveryTimer { server.loop.cancel(timer) }
            recoveryTimer = nil
        }
        server.healthDidChange()
    }

    /// The refusal while the ledger cannot record: nothing is sent unrecorded.
    private func ledgerUnavailable(_ fault: SendLedger.Fault) -> RPCError {
        RPCError(.unavailable, "the send ledger cannot record, so nothing was sent: \(fault.cause) "
                    + "(free space or make \(ledger.path) writable; the gateway retries by itself)",
                 details: ["cause": .string(fault.cause), "ledger": .string(ledger.path)], retryable: true)
    }

    func handle(_ call: MethodCall) {
        var request: Request
        do {
            request = try Self.parse(call.params)
            request.sender = call.connId
        } catch {
            server.metrics.sendFinished(error.code)
            call.fail(error)
            return
        }
        deliver(request) { [server] result in
            switch result {
            case .success(let payload):
                server.metrics.sendFinished("ok")
                call.respond(payload)
            case .failure(let error):
                server.metrics.sendFinished(error.code)
                call.fail(error)
            }
        }
    }

    static func invalid(_ field: String, _ message: String) -> RPCError {
        RPCError(.invalidRequest, "\(field): \(message)", details: ["field": .string(field)])
    }

    static func parse(_ params: JSONValue) throws(RPCError) -> Request {
        guard case .object = params else { throw RPCError(.invalidRequest, "params must be an object with to, message and idempotencyKey") }
        func optionalString(_ field: String) throws(RPCError) -> String? {
            guard let v = params[field], !v.isNull else { return nil }
            guard let s = v.stringValue else { throw invalid(field, "must be a string") }
            return s
        }
        guard let key = try optionalString("idempotencyKey"), !key.isEmpty else {
            throw invalid("idempotencyKey", "required (a non-empty string; reuse it when retrying)")
        }
        guard key.utf8.count <= 256 else { throw invalid("idempotencyKey", "at most 256 bytes") }
        guard let to = try optionalString("to"), !to.isEmpty else { throw invalid("to", "required (a recipient such as \"#ops\")") }
        // Whatever the channel: the recipient goes into the ledger and into logs.
        guard to.utf8.count <= maxRecipientBytes else { throw invalid("to", "longer than \(maxRecipientBytes) bytes") }
        let message = try optionalString("message") ?? ""
        var media: [String] = []
        if let url = try optionalString("mediaUrl"), !url.isEmpty { media.append(url) }
        if let list = params["mediaUrls"], !list.isNull {
            guard let items = list.arrayValue else { throw invalid("mediaUrls", "must be an array of strings") }
            for item in items {
                guard let url = item.stringValue else { throw invalid("mediaUrls", "must be an array of strings") }
                if !url.isEmpty { media.append(url) }
            }
        }
        guard !message.isEmpty || !media.isEmpty else { throw invalid("message", "required unless mediaUrl/mediaUrls is given") }
        // Text channels carry media as links on their own lines.
        let text = ([message] + media).filter { !$0.isEmpty }.joined(separator: "\n")
        guard text.utf8.count <= maxMessageBytes else { throw invalid("message", "longer than \(maxMessageBytes) bytes") }
        let channel = try optionalString("channel").flatMap { $0.isEmpty ? nil : $0 }
        let accountId = try optionalString("accountId")
        let canonical: JSONValue = ["to": .string(to), "text": .string(text), "channel": JSONValue(channel),
                                    "accountId": JSONValue(accountId)]
        return Request(to: to, text: text, channel: channel, idempotencyKey: key, hash: fnv1a64Hex(canonical.serialized()))
    }

    /// Sends once per idempotency key (see `SendLedger` for the crash cases).
    func deliver(_ request: Request, completion: @escaping (Result<JSONValue, RPCError>) -> Void) {
        let registry = server.channels!
        let channel: MessageChannel
        if let id = request.channel {
            guard let c = registry.channel(id) else {
                let known = registry.configuredIDs
                completion(.failure(Self.invalid("channel", "unknown channel \"\(id)\" (configured: "
                    + (known.isEmpty ? "none" : known.joined(separator: ", ")) + ")")))
                return
            }
            channel = c
        } else {
            guard let c = registry.defaultChannel else {
                completion(.failure(RPCError(.notLinked, "no messaging channel is configured (add channels.irc to \(server.settings.paths.configPath))")))
                return
            }
            channel = c
        }
        if let problem = channel.targetProblem(request.to) {
            completion(.failure(ChannelSendError.invalidTarget(problem).rpcError))
            return
        }
        if let fault = ledger.fault, !ledger.recover() {
            completion(.failure(ledgerUnavailable(ledger.fault ?? fault)))
            return
        }
        let key = request.idempotencyKey
        var messageId: String?
        switch ledger.lookup(key: key, hash: request.hash) {
        case .conflict:
            completion(.failure(Self.invalid("idempotencyKey", "already used for a different message; use a new key")))
            return
        case .done(let result):
            completion(.success(result))
            return
        case .inFlight:
            waiters[key, default: []].append(completion)
            return
        case .inDoubt(let id):
            completion(.failure(RPCError(.unavailable,
                "delivery under this idempotencyKey is in doubt: the gateway stopped while sending it; it was not re-sent "
                    + "(send again with a new key if a duplicate is acceptable)",
                details: ["inDoubt": true, "messageId": .string(id)], retryable: false)))
            return
        case .fresh(let id):
            messageId = id
        }
        let outbound = OutboundMessage(to: request.to, text: request.text, sender: request.sender)
        if !channel.state.linked {
            // Refused before anything is recorded: the channel says why (NOT_LINKED, UNAVAILABLE, bad target).
            channel.send(outbound, willWrite: { true }) { result in
                if case .failure(let e) = result { completion(.failure(e.rpcError)) }
            }
            return
        }
        let id = messageId ?? Self.newMessageId(channel: channel.id)
        do {
            try ledger.begin(key: key, hash: request.hash, messageId: id, channel: channel.id, to: request.to)
        } catch {
            completion(.failure(ledgerUnavailable(ledger.fault ?? SendLedger.Fault(cause: error.description, sinceMs: 0))))
            return
        }
        if crashAfterLedgerWrite {
            // Test-only (OPENCLAW_TEST_CRASH_AFTER_LEDGER_WRITE=1): die like SIGKILL between the ledger write and the send.
            kill(getpid(), SIGKILL)
        }
        waiters[key] = [completion]
        let fields = [("OPENCLAW_CHANNEL", channel.id), ("OPENCLAW_MESSAGE_ID", id)]
        channel.send(outbound, willWrite: { [unowned self] in
            // Sending without a durable hand-off could deliver twice after a crash: refuse instead
            // (the fault is logged and reported by ledgerFaultChanged).
            do { try self.ledger.handOff(key: key) } catch { return false }
            return true
        }) { [unowned self] result in
            let outcome: Result<JSONValue, RPCError>
            switch result {
            case .success(let delivery):
                let payload: JSONValue = ["messageId": .string(id), "channel": .string(channel.id), "to": .string(request.to),
                                          "deliveredAt": .int(delivery.deliveredAtMs)]
                // Delivered: answer success even if `done` cannot be recorded (the fault is
                // reported); on disk it stays in doubt until a rewrite, which can only prevent a duplicate.
                try? self.ledger.complete(key: key, result: payload)
                self.server.log.info("sent \(id) to \(request.to)", fields: fields)
                outcome = .success(payload)
            case .failure(.inDoubt(let reason)):
                self.ledger.markInDoubt(key: key)
                self.server.log.warning("send \(id) in doubt: \(reason)", fields: fields)
                outcome = .failure(ChannelSendError.inDoubt(reason).rpcError)
            case .failure(let error):
                // A ledger fault now means the hand-off could not be recorded: say so rather than the channel's words.
                let fault = self.ledger.fault
                try? self.ledger.abort(key: key)
                outcome = .failure(fault.map(self.ledgerUnavailable) ?? error.rpcError)
            }
            let callbacks = self.waiters.removeValue(forKey: key) ?? []
            for callback in callbacks { callback(outcome) }
        }
    }

    static func newMessageId(channel: String) -> String {
        var g = SystemRandomNumberGenerator()
        return channel + "-" + hex(g.next()) + hex(g.next())
    }

    private static func hex(_ v: UInt64) -> String {
        let s = String(v, radix: 16)
        return String(repeating: "0", count: 16 - s.count) + s
    }

    static func fnv1a64Hex(_ bytes: [UInt8]) -> String {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in bytes {
            h ^= UInt64(b)
            h = h &* 0x0000_0100_0000_01b3
        }
        return hex(h)
    }
}
