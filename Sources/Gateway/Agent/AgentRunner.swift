import Glibc
import GatewayProtocol
import JSONCore
import NetIO
import OpenClawConfig

/// `agent` and `agent.wait`: agent turns run by a CLI backend from
/// `openclaw.json` `agent: {command:[argv…], maxConcurrent?, timeoutSeconds?, maxQueued?}`.
///
/// The message goes to the backend's stdin (then EOF); its stdout streams to
/// every client as `agent` events (`stream:"assistant"`, `data.text`, cut on
/// UTF-8 boundaries) and becomes `result.text`. The run also gets
/// `OPENCLAW_RUN_ID`, `OPENCLAW_AGENT_TO`, `OPENCLAW_SESSION_KEY` and
/// `OPENCLAW_THINKING` in its environment. Timeouts SIGTERM the process group,
/// then SIGKILL it 2 s later; when the backend exits, whatever it left running
/// in its group is killed too, so a run never leaves orphans behind.
/// At most `maxConcurrent` runs at once; the rest wait in a FIFO queue, and a
/// run whose session already has one running waits for it (turns of one
/// session run one at a time, see `SessionTurns`). A caller's `timeout` can
/// shorten a run, never lengthen it past `timeoutSeconds`.
/// A reload (SIGHUP) changes the backend and limits for runs that start after
/// it, queued ones included; runs already started finish on the old ones.
/// Idempotency keys of `agent` are remembered in memory only (a restarted
/// gateway forgets them); the `deliver` send goes through the durable ledger
/// under the key `agent:<idempotencyKey>`, and a session run's only once its turn is in
/// the transcript.
final class AgentRunner {
    /// Kept for `agent.wait` and idempotent retries after a run finished: at most this
    /// many, and at most `finishedBytesKept` of final text in all (512 runs of 1 MB
    /// would otherwise pin 512 MB).
    static let finishedRunsKept = 512
    static let finishedBytesKept = 16 << 20
    static let maxOutputBytes = 1 << 20
    static let killGraceMs: Int64 = 2_000

    unowned let server: GatewayServer
    let sender: SendService
    private(set) var config: Config?
    private(set) var queue: [Run] = []
    private(set) var runs: [String: Run] = [:]
    private(set) var finishedOrder: [String] = []
    private var finishedBytes = 0
    private var byKey: [String: String] = [:]
    private var runningCount = 0
    private var stopped = false
    /// Sessions with a run in progress.
    private var busySessions: Set<String> = []
    let launcher: AgentLauncher
    /// Session bookkeeping: transcript and `chat` events around each session run.
    var turns: SessionTurns!

    init(server: GatewayServer, sender: SendService) throws(ConfigError) {
        self.server = server
        self.sender = sender
        config = try Config.parse(server.settings.agent)
        launcher = AgentLauncher(server: server)
    }

    // MARK: agent

    func handleAgent(_ call: MethodCall) {
        let params = call.params
        let key: String
        let timeoutMs: Int64?
        do throws(RPCError) {
            guard case .object = params else { throw RPCError(.invalidRequest, "params must be an object with message and idempotencyKey") }
            guard let k = params["idempotencyKey"]?.stringValue, !k.isEmpty else {
                throw SendService.invalid("idempotencyKey", "required (a non-empty string; reuse it when retrying)")
            }
            guard k.utf8.count <= 256, !k.utf8.contains(0) else {
                throw SendService.invalid("idempotencyKey", "at most 256 bytes, without NUL (it becomes the run id)")
            }
            key = k
            guard let m = params["message"]?.stringValue, !m.isEmpty else { throw SendService.invalid("message", "required (a non-empty string)") }
            _ = m
            for field in ["to", "sessionKey", "channel", "thinking"] {
                if let v = params[field], !v.isNull, v.stringValue == nil { throw SendService.invalid(field, "must be a string") }
            }
            if let v = params["deliver"], !v.isNull, v.boolValue == nil { throw SendService.invalid("deliver", "must be true or false") }
            if let s = params["sessionKey"]?.stringValue, let problem = SessionKey.problem(s) {
                throw SendService.invalid("sessionKey", problem)
            }
            if params["deliver"]?.boolValue == true && (params["to"]?.stringValue ?? "").isEmpty {
                throw SendService.invalid("to", "required when deliver is true")
            }
            timeoutMs = try Self.timeout(params["timeout"])
        } catch {
            call.fail(error)
            return
        }
        let run: Run
        do throws(RPCError) {
            run = try submit(key: key, params: params, timeoutMs: timeoutMs)
        } catch {
            call.fail(error)
            return
        }
        call.respond(run.accepted)
        let caller = call.followUp  // the final answer is its second: counted once, with `accepted`
        if let final = run.final { answer(caller, run: run, final: final) } else { attach(caller, to: run) }
        pump()
    }

    /// The run under `key`: the one already known (an idempotent retry of the
    /// same request), or a new one queued. A known key with another request is refused.
    /// The caller answers its client, then calls `pump()` (so `accepted` precedes the run's events).
    func submit(key: String, params: JSONValue, timeoutMs: Int64?, prepare: (Run) -> Void = { _ in }) throws(RPCError) -> Run {
        // As upstream: the run id is the caller's idempotency key, so a client knows it before the answer.
        let fresh = Run(runId: key, key: key, params: params, timeoutMs: timeoutMs)
        if let runId = byKey[key], let run = runs[runId] {
            guard run.fingerprint == fresh.fingerprint else {
                throw SendService.invalid("idempotencyKey", "already used for a different message; use a new key")
            }
            return run
        }
        guard !stopped else { throw RPCError(.unavailable, "the gateway is stopping", retryable: true) }
        guard let config else {
            throw RPCError(.unavailable, "no agent backend is configured (set agent.command in \(server.settings.paths.configPath))",
                           retryable: false)
        }
        guard queue.count < config.maxQueued || runningCount < config.maxConcurrent else {
            throw RPCError(.unavailable, "too many agent runs queued; try again later", retryable: true, retryAfterMs: 5_000)
        }
        prepare(fresh)
        runs[fresh.runId] = fresh
        byKey[key] = fresh.runId
        queue.append(fresh)
        if runningCount >= config.maxConcurrent || fresh.sessionKey.map(busySessions.contains) == true {
            emit(fresh, stream: "lifecycle", ["phase": "queued", "position": JSONValue(queue.count)])
        }
        return fresh
    }

    /// `call` gets the run's final answer; a `cancel` frame for it aborts the run.
    private func attach(_ call: MethodCall, to run: Run) {
        run.callers.append(call)
        call.onCancel { [weak self, weak run] in
            guard let self, let run else { return }
            self.abort(run)
        }
    }

    /// A client cancelled its `agent` request: a queued run is dropped, a running one's process
    /// group is killed. The final answer (to every caller of the run) is `status: "aborted"` with
    /// the output so far.
    private func abort(_ run: Run) {
        let error: JSONValue
        switch run.phase {
        case .finished:
            return
        case .queued:
            queue.removeAll { $0 === run }
            error = ["code": "ABORTED", "message": "the run was cancelled by the client before it started"]
        case .running:
            run.process?.terminate()
            run.process = nil
            error = ["code": "ABORTED", "message": "the run was cancelled by the client; its processes were killed"]
        }
        server.log.info("agent run \(run.runId) aborted by a cancel frame", fields: [("OPENCLAW_RUN_ID", run.runId)])
        finish(run, status: "aborted", error: error)
    }

    /// `timeout` is in seconds (as upstream), 1 s … 24 h; nil when not given.
    private static func timeout(_ v: JSONValue?) throws(RPCError) -> Int64? {
        guard let v, !v.isNull else { return nil }
        guard let seconds = v.doubleValue, seconds > 0, seconds <= 86_400 else {
            throw SendService.invalid("timeout", "must be a number of seconds in (0, 86400]")
        }
        return max(1, Int64(seconds * 1000))
    }

    /// Starts queued runs in order while slots are free, skipping (not reordering)
    /// runs whose session is busy: they start when its current turn has finished.
    func pump() {
        guard let config else { return }
        while runningCount < config.maxConcurrent, !stopped,
              let i = queue.firstIndex(where: { $0.sessionKey.map(busySessions.contains) != true }) {
            start(queue.remove(at: i), config: config)
        }
    }

    private func start(_ run: Run, config: Config) {
        run.phase = .running
        run.timeoutMs = min(run.requestedTimeoutMs ?? config.timeoutMs, config.timeoutMs)
        runningCount += 1
        var env: [(String, String)] = [("OPENCLAW_RUN_ID", run.runId)]
        if let to = run.to { env.append(("OPENCLAW_AGENT_TO", to)) }
        if let t = run.thinking { env.append(("OPENCLAW_THINKING", t)) }
        if let session = run.sessionKey {
            busySessions.insert(session)
            do throws(RPCError) {
                env += try turns.environment(session)
            } catch {
                finish(run, status: "error", error: ["code": .string(error.code), "message": .string(error.message)])
                return
            }
        }
        let process: AgentProcess
        do throws(AgentLauncher.LaunchError) {
            process = try launcher.launch(AgentLauncher.Spec(
                runId: run.runId, sessionKey: run.sessionKey, argv: config.command, environment: env,
                timeoutMs: run.timeoutMs, memoryMaxBytes: config.memoryMaxBytes, cpuQuotaPercent: config.cpuQuotaPercent),
                mode: config.runner)
        } catch {
            server.log.error("agent run \(run.runId): cannot start \(config.command[0]): \(error)",
                             fields: [("OPENCLAW_RUN_ID", run.runId)])
            finish(run, status: "error", error: ["message": .string("cannot start the agent backend \(config.command[0]): \(error)")])
            return
        }
        run.process = process
        run.unit = process.unitName
        run.openPipes = process.stderrPipe == nil ? 1 : 2
        server.log.info("agent run \(run.runId) started (\(process.label))", fields: [("OPENCLAW_RUN_ID", run.runId)])
        var startData = JSONObject()
        startData["phase"] = "start"
        startData["startedAt"] = .int(EventLoop.wallClockMs())
        if let unit = run.unit { startData["unit"] = .string(unit) }
        if let session = run.sessionKey { startData["sessionKey"] = .string(session) }
        emit(run, stream: "lifecycle", .object(startData))
        process.stdout.onRead = { [unowned self, unowned run] bytes in self.stdout(run, Array(bytes)) }
        process.stdout.onClose = { [unowned self, unowned run] _ in self.pipeClosed(run) }
        process.stderrPipe?.onRead = { [unowned run] bytes in
            run.stderrTail.append(contentsOf: bytes)
            if run.stderrTail.count > 4096 { run.stderrTail.removeFirst(run.stderrTail.count - 4096) }
        }
        process.stderrPipe?.onClose = { [unowned self, unowned run] _ in self.pipeClosed(run) }
        process.onExit = { [unowned self, unowned run] _ in
            run.exited = true
            // Anything still holding the pipes was in the group and is dead now; give EOF a moment.
            run.timers.append(self.server.loop.schedule(afterMs: 1_000) { [unowned self, unowned run] in self.complete(run) })
            self.completeIfDone(run)
        }
        process.writeInputAndClose(Array(run.message.utf8))
        run.timers.append(server.loop.schedule(afterMs: run.timeoutMs) { [unowned self, unowned run] in
            guard run.phase == .running, !run.exited else { return }
            run.timedOut = true
            self.server.log.warning("agent run \(run.runId) timed out after \(run.timeoutMs) ms; stopping \(run.process?.label ?? "it")",
                                    fields: [("OPENCLAW_RUN_ID", run.runId)])
            run.process?.requestStop()
            run.timers.append(self.server.loop.schedule(afterMs: Self.killGraceMs) { [unowned run] in
                run.process?.kill()
            })
        })
    }

    private func stdout(_ run: Run, _ bytes: [UInt8]) {
        var chunk = run.carry + bytes
        let complete = Self.completeUTF8Prefix(chunk)
        run.carry = Array(chunk[complete...])
        chunk.removeSubrange(complete...)
        guard !chunk.isEmpty, !run.truncated else { return }
        if run.output.count + chunk.count > Self.maxOutputBytes {
            run.truncated = true
            return
        }
        run.output += chunk
        emit(run, stream: "assistant", ["text": .string(String(decoding: chunk, as: UTF8.self))])
        if run.sessionKey != nil { turns.delta(run) }
    }

    private func pipeClosed(_ run: Run) {
        run.openPipes -= 1
        completeIfDone(run)
    }

    private func completeIfDone(_ run: Run) {
        if run.exited && run.openPipes <= 0 { complete(run) }
    }

    /// Ends a run however it ended: its final snapshot, events, transcript, callers and waiters answered.
    func finish(_ run: Run, status: String, exitCode: Int32? = nil, error: JSONValue? = nil,
                        extra: JSONValue = [:]) {
        guard run.phase != .finished else { return }
        if run.phase == .running { runningCount -= 1 }
        run.phase = .finished
        if let session = run.sessionKey { busySessions.remove(session) }
        for t in run.timers { server.loop.cancel(t) }
        run.timers.removeAll()
        var o = JSONObject()
        o["status"] = .string(status)
        o["runId"] = .string(run.runId)
        let text = run.finalText
        // `payloads` as upstream shapes a reply (text parts); `text` is kept for this product's clients.
        o["result"] = ["text": .string(text), "payloads": .array(text.isEmpty ? [] : [["text": .string(text)]])]
        if run.truncated { o["truncated"] = true }
        if let unit = run.unit { o["unit"] = .string(unit) }
        if let usage = run.usage { o["usage"] = usage }
        if let session = run.sessionKey { o["sessionKey"] = .string(session) }
        if let exitCode { o["exitCode"] = .int(Int64(exitCode)) }
        if let error { o["error"] = error }
        for (k, v) in extra.objectValue?.entries ?? [] { o[k] = v }
        o["endedAt"] = .int(EventLoop.wallClockMs())
        if let problem = turns.record(run, status: status) {
            o["transcriptError"] = problem.json
        }
        let final = JSONValue.object(o)
        run.final = final
        let phase: JSONValue = ["phase": status == "ok" ? "end" : "error", "status": .string(status)]
        emit(run, stream: status == "ok" ? "lifecycle" : "error", phase.merging(error))
        if run.sessionKey != nil { turns.final(run, status: status, error: error) }
        server.log.info("agent run \(run.runId) finished: \(status)", fields: [("OPENCLAW_RUN_ID", run.runId)])
        server.metrics.agentRunFinished(status)
        let callers = run.callers
        run.callers.removeAll()
        for call in callers { answer(call, run: run, final: final) }
        let waiters = run.waiters
        run.waiters.removeAll()
        for w in waiters { w(final) }
        // `final` holds the text now; the raw output would keep it a second time.
        run.output = []
        run.carry = []
        run.stderrTail = []
        run.finalBytes = text.utf8.count
        finishedOrder.append(run.runId)
        finishedBytes += run.finalBytes
        while finishedOrder.count > Self.finishedRunsKept || (finishedBytes > Self.finishedBytesKept && finishedOrder.count > 1) {
            let old = finishedOrder.removeFirst()
            if let r = runs.removeValue(forKey: old) {
                byKey[r.key] = nil
                finishedBytes -= r.finalBytes
            }
        }
        pump()
    }

    func emit(_ run: Run, stream: String, _ data: JSONValue) {
        run.seq += 1
        server.broadcast(event: "agent", payload: ["runId": .string(run.runId), "seq": .int(run.seq), "stream": .string(stream),
                                                   "ts": .int(EventLoop.wallClockMs()), "data": data])
    }

    // MARK: reload

    /// `ReloadStep` for `agent`: checks the new section, and applies it to runs that start from then on.
    func prepareReload(_ settings: GatewaySettings) throws(ConfigError) -> () -> Void {
        let new = try Config.parse(settings.agent)
        return { [unowned self] in self.reconfigure(new) }
    }

    private func reconfigure(_ new: Config?) {
        guard new != config else { return }
        config = new
        guard let new else {
            server.log.notice("agent backend removed from the configuration; \(runningCount) run(s) in flight finish on it")
            for run in queue {
                finish(run, status: "error", error: ["message": "the agent backend was removed from the configuration before the run started"])
            }
            queue.removeAll()
            return
        }
        server.log.notice("agent backend now \(new.command[0]) (maxConcurrent \(new.maxConcurrent), timeout \(new.timeoutMs / 1000) s); "
            + "\(runningCount) run(s) in flight finish on the previous one")
        pump()  // a higher maxConcurrent starts queued runs now
    }

    // MARK: shutdown

    /// Kills every run's process group and answers its callers.
    func stopAll() {
        stopped = true
        for run in queue { finish(run, status: "error", error: ["message": "the gateway stopped before the run started"]) }
        queue.removeAll()
        for run in runs.values where run.phase == .running {
            run.process?.terminate()
            run.process = nil
            finish(run, status: "error", error: ["message": "the gateway stopped during the run; its processes were killed"])
        }
    }
}
