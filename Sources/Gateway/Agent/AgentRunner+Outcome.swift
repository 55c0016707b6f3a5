import GatewayProtocol
import JSONCore
import NetIO

/// How an agent run's end becomes its result (`AgentRunner`): the backend's exit status and
/// output turned into `ok`, `error` or `timeout`, the reply delivered through the send ledger
/// when asked, and the answer each `agent` caller gets.
extension AgentRunner {
    /// The backend exited and its pipes closed: its exit status and output become the run's
    /// result (timeout, error with stderr, a transcript that could not record, or ok and delivered).
    func complete(_ run: Run) {
        guard run.phase == .running, let process = run.process else { return }
        run.process = nil
        process.closePipes()
        run.usage = process.usage()
        let (code, description) = ChildProcess.describe(process.exitStatus ?? 0)
        if !run.carry.isEmpty && !run.truncated {
            // A backend that stopped mid-sequence: pass the bytes on, decoded leniently.
            run.output += run.carry
            emit(run, stream: "assistant", ["text": .string(String(decoding: run.carry, as: UTF8.self))])
        }
        run.carry = []
        var stderrText = String(decoding: run.stderrTail, as: UTF8.self).trimmingWhitespace()
        if let unit = run.unit, stderrText.isEmpty { stderrText = "its stderr is in the journal: \(launcher.journalHint(unit: unit))" }
        if run.timedOut {
            finish(run, status: "timeout", exitCode: code, error: [
                "code": .string(ErrorCode.agentTimeout.rawValue),
                "message": .string("the agent run timed out after \(run.timeoutMs / 1000) s; its process group was killed"),
            ])
        } else if code != 0 {
            finish(run, status: "error", exitCode: code, error: [
                "message": .string("the agent backend \(description)" + (stderrText.isEmpty ? "" : ": \(stderrText)")),
            ])
        } else if let problem = turns.record(run, status: "ok") {
            // Never send what could not be recorded first: the reply stays unsent and the turn fails.
            var extra: JSONValue = ["transcriptError": problem.json]
            if run.deliver { extra = extra.merging(["deliveryStatus": "failed", "deliveryError": problem.json]) }
            finish(run, status: "error", exitCode: code, error: problem.json, extra: extra)
        } else if run.deliver, let to = run.to {
            deliver(run, to: to, exitCode: code)
        } else {
            finish(run, status: "ok", exitCode: code)
        }
    }

    private func deliver(_ run: Run, to: String, exitCode: Int32) {
        let text = SessionTurns.reply(run.finalText, prefix: run.replyPrefix)
        guard !run.finalText.isEmpty else {
            finish(run, status: "ok", exitCode: exitCode, extra: ["deliveryStatus": "skipped"])
            return
        }
        var params: JSONValue = ["to": .string(to), "message": .string(text), "idempotencyKey": .string("agent:" + run.key)]
        if let channel = run.channel, case .object(var o) = params {
            o["channel"] = .string(channel)
            params = .object(o)
        }
        let request: SendService.Request
        do {
            request = try SendService.parse(params)
        } catch {
            finish(run, status: "ok", exitCode: exitCode, extra: ["deliveryStatus": "failed", "deliveryError": error.json])
            return
        }
        sender.deliver(request) { [unowned self] result in
            switch result {
            case .success(let payload):
                self.finish(run, status: "ok", exitCode: exitCode, extra: ["deliveryStatus": "delivered", "delivery": payload])
            case .failure(let error):
                self.finish(run, status: "ok", exitCode: exitCode, extra: ["deliveryStatus": "failed", "deliveryError": error.json])
            }
        }
    }

    /// A timed-out run answers `agent` with AGENT_TIMEOUT (details: the final snapshot); others with the snapshot.
    func answer(_ call: MethodCall, run: Run, final: JSONValue) {
        call.onCancel(nil)
        if let problem = final["transcriptError"] ?? (final["error"]?["code"]?.stringValue == ErrorCode.unavailable.rawValue ? final["error"] : nil),
           let message = problem["message"]?.stringValue {
            // The session could not record the turn (its transcript was not writable): the caller must know.
            call.fail(RPCError(.unavailable, message, details: final, retryable: false))
        } else if run.timedOut {
            call.fail(RPCError(.agentTimeout, "the agent run \(run.runId) timed out after \(run.timeoutMs / 1000) s",
                               details: final, retryable: false))
        } else {
            call.respond(final)
        }
    }
}

extension JSONValue {
    /// This object with `other`'s keys added (when both are objects).
    func merging(_ other: JSONValue?) -> JSONValue {
        guard case .object(var o) = self, case .object(let p)? = other else { return self }
        for (k, v) in p.entries { o[k] = v }
        return .object(o)
    }
}
