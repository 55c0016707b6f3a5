import GatewayProtocol
import JSONCore
import NetIO

/// What `AgentRunner` answers without changing anything: `status.agent`,
/// `agent.wait`, and the reading of a backend's output.
extension AgentRunner {
    // MARK: status

    /// `status.agent`: how runs start, what runs now (with its unit's live CPU time and memory), and the last run's usage.
    func statusJSON() -> JSONValue {
        var o = launcher.json.objectValue ?? JSONObject()
        o["configured"] = .bool(config != nil)
        o["queued"] = .int(Int64(queue.count))
        o["running"] = .array(runs.values.filter { $0.phase == .running }.sorted { $0.acceptedAt < $1.acceptedAt }.map { run in
            var r = JSONObject()
            r["runId"] = .string(run.runId)
            if let s = run.sessionKey { r["sessionKey"] = .string(s) }
            if let unit = run.unit { r["unit"] = .string(unit) }
            if let usage = (run.process as? TransientUnitProcess)?.liveUsage() { r["usage"] = usage }
            return .object(r)
        })
        if let last = finishedOrder.last.flatMap({ runs[$0] }) {
            var r = JSONObject()
            r["runId"] = .string(last.runId)
            if let unit = last.unit { r["unit"] = .string(unit) }
            if let usage = last.usage { r["usage"] = usage }
            o["lastRun"] = .object(r)
        }
        return .object(o)
    }

    // MARK: agent.wait

    func handleWait(_ call: MethodCall) {
        guard let runId = call.params["runId"]?.stringValue, !runId.isEmpty else {
            call.fail(SendService.invalid("runId", "required (the runId from agent's accepted answer)"))
            return
        }
        var timeoutMs: Int64 = 30_000
        if let v = call.params["timeoutMs"], !v.isNull {
            guard let t = v.intValue, (0...600_000).contains(t) else {
                call.fail(SendService.invalid("timeoutMs", "must be an integer in 0…600000"))
                return
            }
            timeoutMs = t
        }
        guard let run = runs[runId] else {
            call.fail(SendService.invalid("runId", "unknown run \"\(runId)\" (finished runs are kept for the last \(Self.finishedRunsKept))"))
            return
        }
        if let final = run.final {
            call.respond(final)
            return
        }
        var answered = false
        let timer = server.loop.schedule(afterMs: timeoutMs) {
            guard !answered else { return }
            answered = true
            call.respond(["status": "timeout", "runId": .string(runId), "waitTimedOut": true])
        }
        run.waiters.append { [unowned self] final in
            guard !answered else { return }
            answered = true
            self.server.loop.cancel(timer)
            call.respond(final)
        }
    }

    /// Length of the longest prefix that does not end inside a UTF-8 sequence.
    static func completeUTF8Prefix(_ bytes: [UInt8]) -> Int {
        var i = bytes.count
        var back = 0
        while i > 0 && back < 4 {
            let b = bytes[i - 1]
            if b & 0xC0 == 0x80 { i -= 1; back += 1; continue }  // continuation
            if b < 0x80 { return bytes.count }
            let need = b >= 0xF0 ? 4 : b >= 0xE0 ? 3 : 2
            return need == back + 1 ? bytes.count : i - 1
        }
        return bytes.count
    }
}

extension AgentRunner.Run {
    var finalText: String {
        String(decoding: output, as: UTF8.self).trimmingWhitespace()
    }
}

extension String {
    /// Without leading and trailing spaces, tabs and line breaks.
    func trimmingWhitespace() -> String {
        let isSpace: (Character) -> Bool = { $0 == " " || $0 == "\n" || $0 == "\r" || $0 == "\t" || $0 == "\r\n" }
        guard let start = firstIndex(where: { !isSpace($0) }), let end = lastIndex(where: { !isSpace($0) }) else { return "" }
        return String(self[start...end])
    }
}
