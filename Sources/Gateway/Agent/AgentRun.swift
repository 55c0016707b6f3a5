import GatewayProtocol
import JSONCore
import NetIO
import OpenClawConfig

extension AgentRunner {
    struct Config: Equatable {
        var command: [String]
        var maxConcurrent: Int
        var maxQueued: Int
        var timeoutMs: Int64
        /// How runs are started: `auto` (a transient unit when a systemd manager
        /// takes it, else a forked process group), `unit` or `fork` (see AgentLauncher).
        var runner: AgentLauncher.Mode = .auto
        /// `MemoryMax=` of a run's unit, in bytes (nil: no limit).
        var memoryMaxBytes: Int64?
        /// `CPUQuota=` of a run's unit, in percent of one CPU (nil: no limit).
        var cpuQuotaPercent: Int64?

        static func parse(_ v: JSONValue) throws(ConfigError) -> Config? {
            if v.isNull { return nil }
            guard case .object = v else { throw ConfigError("agent must be an object") }
            guard let raw = v["command"] else { return nil }
            guard let items = raw.arrayValue, !items.isEmpty,
                  case let argv = items.compactMap(\.stringValue), argv.count == items.count, !argv[0].isEmpty
            else { throw ConfigError("agent.command must be a non-empty array of strings (an argv)") }
            func int(_ key: String, _ range: ClosedRange<Int64>, _ fallback: Int64) throws(ConfigError) -> Int64 {
                guard let raw = v[key] else { return fallback }
                guard let i = raw.intValue, range.contains(i) else {
                    throw ConfigError("agent.\(key) must be an integer in \(range.lowerBound)…\(range.upperBound)")
                }
                return i
            }
            var config = Config(command: argv,
                                maxConcurrent: Int(try int("maxConcurrent", 1...64, 2)),
                                maxQueued: Int(try int("maxQueued", 0...10_000, 100)),
                                timeoutMs: try int("timeoutSeconds", 1...86_400, 600) * 1000)
            if let raw = v["runner"] {
                guard let name = raw.stringValue, let mode = AgentLauncher.Mode(rawValue: name) else {
                    throw ConfigError("agent.runner must be \"auto\", \"unit\" or \"fork\"")
                }
                config.runner = mode
            }
            if v["memoryMaxMB"] != nil { config.memoryMaxBytes = try int("memoryMaxMB", 16...1_048_576, 0) << 20 }
            if v["cpuQuotaPercent"] != nil { config.cpuQuotaPercent = try int("cpuQuotaPercent", 1...12_800, 0) }
            return config
        }
    }

    enum Phase {
        case queued, running, finished
    }

    final class Run {
        let runId: String
        let key: String
        let message: String
        let to: String?
        let channel: String?
        let sessionKey: String?
        let thinking: String?
        let deliver: Bool
        /// Identifies the request under its idempotency key (the same key with another request is refused).
        let fingerprint: String
        /// Put before the reply when it is delivered (`alice: ` in a channel).
        var replyPrefix = ""
        /// Who sent the message, recorded with the user turn of a group session.
        var from: String?
        /// The turn went to the session transcript (or failed to): it is written once, before any reply leaves.
        var recorded = false
        /// `chat` events of a session run count on their own.
        var chatSeq: Int64 = 0
        /// The transient unit the run ran in, and its CPU time and peak memory once read.
        var unit: String?
        var usage: JSONValue?
        /// The caller's `timeout`; without one, the configured timeout when the run starts.
        let requestedTimeoutMs: Int64?
        var timeoutMs: Int64 = 0
        let acceptedAt: Int64
        var phase = Phase.queued
        var seq: Int64 = 0
        var process: AgentProcess?
        var output: [UInt8] = []
        var carry: [UInt8] = []
        var stderrTail: [UInt8] = []
        var truncated = false
        var timedOut = false
        var timers: [TimerID] = []
        var exited = false
        var openPipes = 2
        /// The final payload once finished, and the bytes of text it keeps.
        var final: JSONValue?
        var finalBytes = 0
        /// `agent` calls waiting for the final answer (the first one and idempotent retries).
        var callers: [MethodCall] = []
        var waiters: [(JSONValue) -> Void] = []

        init(runId: String, key: String, params: JSONValue, timeoutMs: Int64?) {
            self.runId = runId
            self.key = key
            message = params["message"]?.stringValue ?? ""
            to = params["to"]?.stringValue
            channel = params["channel"]?.stringValue
            sessionKey = params["sessionKey"]?.stringValue
            thinking = params["thinking"]?.stringValue
            deliver = params["deliver"]?.boolValue ?? false
            fingerprint = SendService.fnv1a64Hex((["message": .string(message), "sessionKey": JSONValue(sessionKey),
                                                   "to": JSONValue(to), "channel": JSONValue(channel)] as JSONValue).serialized())
            requestedTimeoutMs = timeoutMs
            acceptedAt = EventLoop.wallClockMs()
        }

        var accepted: JSONValue {
            ["status": "accepted", "runId": .string(runId), "acceptedAt": .int(acceptedAt)]
        }
    }
}
