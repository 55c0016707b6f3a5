import Glibc
import Gateway
import GatewayClient
import JSONCore
import OpenClawConfig
import SystemdKit

extension GatewayCommands {
    /// `openclaw logs [--follow]`. Through the gateway's `logs.tail` when it answers; when it does
    /// not (stopped, crashed, port taken), from the journal directly through sd-journal with the same
    /// matches, which is when the lines matter most. Once following, a lost gateway is waited for
    /// with backoff and the tail resumes from the last cursor.
    func logs(_ override: RPCTarget, _ request: LogsRequest) throws(CommandFailure) -> Int32 {
        let target = try resolve(override)
        var follower = LogFollower()
        let matcher = request.filter.matcher()
        var connection: GatewayConnection?
        do {
            connection = try GatewayConnection.connect(
                url: target.url, token: target.token, password: target.password, identity: Self.identity,
                connectTimeoutMs: override.timeoutMs ?? 10_000, requestTimeoutMs: override.timeoutMs ?? 30_000)
        } catch {
            // A refusal is a definite answer about our secret, not a reason to read around the gateway.
            if error.authRefusal != nil { throw CommandFailure(error) }
            // The gateway's account: the caller for a user gateway, the unit's User= for --system.
            let uid = override.system
                ? try ServiceCommands(terminal: terminal, environment: environment, profile: profile).service(system: true)
                    .target.uid : geteuid()
            let lines = try journalDirect(request, uid: uid, matcher: matcher, why: ClientProber.reason(error),
                                          url: target.url)
            follower.resume(after: lines.last?.cursor)
            if !request.follow {
                if request.json {
                    var o = JSONObject()
                    o["source"] = "journal"
                    o["direct"] = true
                    o["cursor"] = .string(lines.last?.cursor ?? "")
                    o["lines"] = .array(lines.map { .string(JournalView.format($0)) })
                    o["cursors"] = .array(lines.map { .string($0.cursor) })
                    terminal.line(JSONValue.object(o).prettyPrinted())
                } else {
                    lines.forEach { terminal.logLine(JournalView.format($0)) }
                }
                return CLI.Exit.ok
            }
            show(LogFollower.Batch(lines: lines.map(JournalView.format), cursors: lines.map(\.cursor),
                                   cursor: lines.last?.cursor, reset: false, more: false),
                 json: request.json, filter: nil)
        }
        if let initial = connection, follower.cursor == nil {
            let first: JSONValue
            do {
                first = try initial.call("logs.tail", params: follower.params(limit: request.limit))
            } catch {
                throw CommandFailure(error)
            }
            let firstBatch = follower.accept(first)
            guard request.follow else {
                initial.close()
                if request.json {
                    terminal.line(Self.filtered(first, request.filter, matcher).prettyPrinted())
                } else {
                    firstBatch.lines.filter { request.filter.accepts(line: $0, matcher: matcher) }.forEach(terminal.logLine)
                }
                return CLI.Exit.ok
            }
            show(firstBatch, json: request.json, filter: (request.filter, matcher))
        }
        return try follow(target, request, timeoutMs: override.timeoutMs, follower: &follower, connection: connection,
                          matcher: matcher)
    }

    private func follow(_ target: GatewayTarget, _ request: LogsRequest, timeoutMs: Int?, follower: inout LogFollower,
                        connection initial: GatewayConnection?, matcher: @escaping (String, Int, UInt64) -> Bool)
        throws(CommandFailure) -> Int32
    {
        var connection = initial
        var backoffMs = 250
        while true {
            guard let live = connection else {
                do {
                    connection = try GatewayConnection.connect(
                        url: target.url, token: target.token, password: target.password, identity: Self.identity,
                        connectTimeoutMs: timeoutMs ?? 5_000, requestTimeoutMs: timeoutMs ?? 30_000)
                    terminal.note("Reconnected to \(target.url); resuming after the last line shown.")
                    backoffMs = 250
                } catch {
                    // A gateway that is back but refuses us (rotated token) will not change its mind.
                    if error.authRefusal != nil { throw CommandFailure(error) }
                    sleepMs(backoffMs)
                    backoffMs = min(backoffMs * 2, 5_000)
                }
                continue
            }
            do {
                let batch = follower.accept(try live.call("logs.tail", params: follower.params(limit: request.limit)))
                if batch.reset {
                    terminal.note("The gateway did not know the last cursor (it restarted without a journal, or "
                        + "the lines rotated out): lines logged in between may be missing.")
                }
                show(batch, json: request.json, filter: (request.filter, matcher))
                if !batch.more { sleepMs(request.intervalMs) }
            } catch {
                if case .rpc = error { throw CommandFailure(error) }
                live.close()
                connection = nil
                terminal.note("Lost the connection to the gateway at \(target.url); reconnecting…")
            }
        }
    }

    /// The gateway's own journal entries, read here (the gateway is not answering).
    private func journalDirect(_ request: LogsRequest, uid: uid_t, matcher: (String, Int, UInt64) -> Bool, why: String,
                               url: String) throws(CommandFailure) -> [JournalLine] {
        let label: String
        do { label = try OpenClawPaths.resolve(profile: profile, environment: environment).profileLabel } catch {
            throw CommandFailure(error.description)
        }
        let unreadable = "Cannot reach the OpenClaw gateway at \(url) (\(why)), and its journal is not readable here"
        let lines: [JournalLine]
        do {
            let reader = try JournalReader(matches: JournalView.matches(profile: label, uid: uid))
            if try reader.usageBytes() == 0 {
                throw CommandFailure(unreadable + " (no journal files this user may read: use sudo, or join the "
                    + "systemd-journal group); `openclaw gateway status` shows why the gateway is down.")
            }
            lines = try reader.tail(limit: request.limit, notBeforeUsec: request.filter.sinceUsec) {
                matcher($0.message, $0.priority, $0.realtimeUsec)
            }
        } catch let failure as CommandFailure {
            throw failure
        } catch {
            throw CommandFailure(unreadable + " (\(error)); `openclaw gateway status` shows why the gateway is down.")
        }
        terminal.note("The gateway does not answer at \(url) (\(why)); these lines are read from the journal "
            + "directly (profile \(label)).")
        return lines
    }

    /// A `logs.tail` document with only the lines (and their cursors) the filter accepts.
    private static func filtered(_ payload: JSONValue, _ filter: LogFilter, _ matcher: (String, Int, UInt64) -> Bool)
        -> JSONValue
    {
        guard !filter.isEmpty, var o = payload.objectValue else { return payload }
        let lines = payload["lines"]?.arrayValue ?? []
        let cursors = payload["cursors"]?.arrayValue
        let kept = lines.indices.filter { lines[$0].stringValue.map { filter.accepts(line: $0, matcher: matcher) } ?? false }
        o["lines"] = .array(kept.map { lines[$0] })
        if let cursors, cursors.count == lines.count { o["cursors"] = .array(kept.map { cursors[$0] }) }
        return .object(o)
    }

    /// Each line with its own cursor, so resuming from any printed line skips nothing.
    private func show(_ batch: LogFollower.Batch, json: Bool,
                      filter: (LogFilter, (String, Int, UInt64) -> Bool)?) {
        for (i, line) in batch.lines.enumerated() {
            if let (filter, matcher) = filter, !filter.accepts(line: line, matcher: matcher) { continue }
            let cursor = i < batch.cursors.count ? batch.cursors[i] : batch.cursor
            let entry: JSONValue = ["line": .string(line), "cursor": JSONValue(cursor)]
            if json { terminal.line(entry.jsonString) } else { terminal.logLine(line) }
        }
    }

    private func sleepMs(_ ms: Int) {
        usleep(UInt32(ms) * 1000)
    }
}
