import GatewayProtocol
import JSONCore
import NetIO

/// Agent turns in sessions: what starts them (an inbound message addressed to
/// the gateway by an admitted sender, `chat.send`, `agent` with a `sessionKey`),
/// what the backend sees of the session (`OPENCLAW_SESSION_KEY`,
/// `OPENCLAW_SESSION_FILE`), where the reply goes (back where the message came
/// from, through the idempotent `send` path), the transcript, and the `chat`
/// events in upstream's shape: `{runId, sessionKey, seq, state, message}`.
final class SessionTurns {
    private unowned let server: GatewayServer
    private let store: SessionStore
    private unowned let runner: AgentRunner

    init(server: GatewayServer, store: SessionStore, runner: AgentRunner) {
        self.server = server
        self.store = store
        self.runner = runner
    }

    func register() {
        server.registerMethod("chat.send") { [unowned self] call in self.chatSend(call) }
    }

    // MARK: what starts a turn

    /// An inbound channel message: broadcast as `chat.inbound`; when it is meant
    /// for the gateway and its sender is admitted, a turn in its conversation's session.
    func inbound(_ message: InboundMessage) {
        server.broadcast(event: "chat.inbound", payload: message.json)
        guard let text = message.addressedText else { return }
        let peer = message.isGroup ? message.to : message.from
        let where_ = message.isGroup ? " in \(message.to)" : ""
        let fields = [("OPENCLAW_CHANNEL", message.channel), ("OPENCLAW_PEER", message.from)]
        if let refusal = message.refusal {
            server.log.notice("ignored a message from \(message.from)\(where_): \(refusal)", fields: fields)
            return
        }
        let session = SessionKey.conversation(channel: message.channel, isGroup: message.isGroup, peer: peer)
        if let problem = SessionKey.problem(session) {
            server.log.warning("ignored a message from \(message.from)\(where_): session key \(problem)", fields: fields)
            return
        }
        let params: JSONValue = ["message": .string(text), "sessionKey": .string(session), "channel": .string(message.channel),
                                 "to": .string(peer), "deliver": true]
        let key = "inbound:" + SendService.newMessageId(channel: message.channel)
        do throws(RPCError) {
            let run = try runner.submit(key: key, params: params, timeoutMs: nil) { run in
                if message.isGroup {
                    run.replyPrefix = message.from + ": "
                    run.from = message.from
                }
            }
            server.log.info("message from \(message.from)\(where_) starts agent run \(run.runId) in session \(session)",
                            fields: fields + [("OPENCLAW_RUN_ID", run.runId), ("OPENCLAW_SESSION_KEY", session)])
            runner.pump()
        } catch {
            server.log.warning("message from \(message.from)\(where_) not answered: \(error.message)", fields: fields)
        }
    }

    /// `chat.send {sessionKey, message, idempotencyKey}`: a turn in that session,
    /// answered at once with `{runId, status: "started"}`; the reply comes as
    /// `chat` events, and a channel-bound session's reply is also delivered there.
    private func chatSend(_ call: MethodCall) {
        do throws(RPCError) {
            let session = try SessionMethods.sessionKey(call.params)
            guard let message = call.params["message"]?.stringValue, !message.isEmpty else {
                throw SendService.invalid("message", "required (a non-empty string)")
            }
            guard let key = call.params["idempotencyKey"]?.stringValue, !key.isEmpty else {
                throw SendService.invalid("idempotencyKey", "required (a non-empty string; reuse it when retrying)")
            }
            var params = JSONObject()
            params["message"] = .string(message)
            params["sessionKey"] = .string(session)
            if let route = SessionKey.route(of: session), server.channels.channel(route.channel) != nil {
                params["channel"] = .string(route.channel)
                params["to"] = .string(route.to)
                params["deliver"] = true
            }
            let run = try runner.submit(key: key, params: .object(params), timeoutMs: nil)
            call.respond(["runId": .string(run.runId), "sessionKey": .string(session),
                          "status": .string(run.final == nil ? "started" : "finished")])
            runner.pump()
        } catch {
            call.fail(error)
        }
    }

    // MARK: around a run

    /// The backend's view of its session; creates the transcript on the first turn.
    func environment(_ session: String) throws(RPCError) -> [(String, String)] {
        do throws(SystemCallError) {
            try store.ensure(session)
        } catch {
            throw SessionMethods.unavailable(error, what: "cannot create the transcript of session \(session)")
        }
        return [("OPENCLAW_SESSION_KEY", session), ("OPENCLAW_SESSION_FILE", store.transcriptPath(session))]
    }

    /// Appends the turn (the user's message; the reply when there is one), once per run:
    /// a successful run's turn before its reply is delivered (a reply that could not be
    /// recorded is never sent), any other run's as it finishes, and always before the
    /// session's next turn may start. Returns the failure, if any, for the run's answer.
    func record(_ run: AgentRunner.Run, status: String) -> TranscriptProblem? {
        guard let session = run.sessionKey, !run.recorded else { return nil }
        run.recorded = true
        var turns = [SessionStore.Turn(role: "user", text: run.message, ts: run.acceptedAt, from: run.from)]
        let reply = run.finalText
        if status == "ok" && !reply.isEmpty { turns.append(.init(role: "assistant", text: reply, ts: EventLoop.wallClockMs())) }
        do throws(SystemCallError) {
            try store.append(session, turns)
            return nil
        } catch {
            server.log.error("session \(session): the turn of run \(run.runId) is not in the transcript: \(error)",
                             fields: [("OPENCLAW_RUN_ID", run.runId), ("OPENCLAW_SESSION_KEY", session)])
            let unsent = status == "ok" && run.deliver && !reply.isEmpty ? "; its reply was not sent" : ""
            return TranscriptProblem(message: "the turn ran but could not be recorded in the session transcript: \(error)\(unsent)",
                                     errno: error.errno)
        }
    }

    func delta(_ run: AgentRunner.Run) {
        emit(run, state: "delta", text: String(decoding: run.output, as: UTF8.self))
    }

    func final(_ run: AgentRunner.Run, status: String, error: JSONValue?) {
        if status == "ok" {
            emit(run, state: "final", text: run.finalText)
        } else {
            emit(run, state: "error", text: run.finalText,
                 errorMessage: error?["message"]?.stringValue ?? "the agent run ended with status \(status)")
        }
    }

    /// Upstream's `chat` event: `message` is the assistant's text so far (deltas) or in full (final).
    private func emit(_ run: AgentRunner.Run, state: String, text: String, errorMessage: String? = nil) {
        guard let session = run.sessionKey else { return }
        run.chatSeq += 1
        var o = JSONObject()
        o["runId"] = .string(run.runId)
        o["sessionKey"] = .string(session)
        o["seq"] = .int(run.chatSeq)
        o["state"] = .string(state)
        o["message"] = ["role": "assistant", "content": [["type": "text", "text": .string(text)]],
                        "timestamp": .int(EventLoop.wallClockMs())]
        if let errorMessage { o["errorMessage"] = .string(errorMessage) }
        server.broadcast(event: "chat", payload: .object(o))
    }

    /// The delivered reply: `prefix` + text, cut (on a UTF-8 boundary, marked) to what `send` takes.
    static func reply(_ text: String, prefix: String) -> String {
        let marker = " […]"
        let full = Array((prefix + text).utf8)
        guard full.count > SendService.maxMessageBytes else { return prefix + text }
        var cut = SendService.maxMessageBytes - marker.utf8.count
        while cut > 0 && full[cut] & 0xC0 == 0x80 { cut -= 1 }
        return String(decoding: full[..<cut], as: UTF8.self) + marker
    }
}

/// A transcript write that failed (ENOSPC, EIO, …): reported as UNAVAILABLE with its cause.
struct TranscriptProblem {
    var message: String
    var errno: Int32

    var json: JSONValue {
        ["code": .string(ErrorCode.unavailable.rawValue), "message": .string(message), "errno": .int(Int64(errno))]
    }
}
