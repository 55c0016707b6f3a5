import GatewayProtocol
import NetIO

/// Writer for the Prometheus text exposition format (version 0.0.4): one
/// `# HELP`/`# TYPE` header per family, then its samples.
struct PrometheusText {
    private(set) var text = ""

    mutating func family(_ name: String, _ type: String, _ help: String) {
        text += "# HELP \(name) \(help)\n# TYPE \(name) \(type)\n"
    }

    mutating func sample(_ name: String, _ labels: [(String, String)] = [], _ value: UInt64) {
        sample(name, labels, String(value))
    }

    mutating func sample(_ name: String, _ labels: [(String, String)] = [], _ value: String) {
        text += name
        if !labels.isEmpty {
            text += "{" + labels.map { "\($0.0)=\"\(Self.escape($0.1))\"" }.joined(separator: ",") + "}"
        }
        text += " \(value)\n"
    }

    /// Label values escape backslash, double quote and newline.
    static func escape(_ value: String) -> String {
        var out = ""
        for c in value {
            switch c {
            case "\\": out += "\\\\"
            case "\"": out += "\\\""
            case "\n": out += "\\n"
            default: out.append(c)
            }
        }
        return out
    }

    static func seconds(ns: UInt64) -> String { String(Double(ns) / 1e9) }
}

extension GatewayServer {
    /// The body of `GET /metrics`. Names follow Prometheus conventions: `openclaw_` prefix,
    /// `_total` for counters, base units (`_seconds`); docs/metrics.md lists them.
    func metricsText() -> String {
        let m = metrics
        var p = PrometheusText()
        p.family("openclaw_build_info", "gauge", "Always 1; the labels name the build.")
        p.sample("openclaw_build_info", [("version", BuildInfo.version)], 1)
        p.family("openclaw_start_time_seconds", "gauge", "Start of the gateway process, seconds since the Unix epoch.")
        p.sample("openclaw_start_time_seconds", [], String(Double(startedWallMs) / 1000))

        p.family("openclaw_connections", "gauge", "Open client sockets (WebSocket or plain HTTP).")
        p.sample("openclaw_connections", [], UInt64(openConnectionCount))
        p.family("openclaw_clients", "gauge", "Clients past hello-ok.")
        p.sample("openclaw_clients", [], UInt64(clientCount))
        p.family("openclaw_connections_accepted_total", "counter", "Client sockets accepted.")
        p.sample("openclaw_connections_accepted_total", [], m.connectionsAccepted)

        p.family("openclaw_requests_total", "counter", "Requests answered, by method and outcome (ok or the error code).")
        for (mi, method) in GatewayMetrics.methodLabels.enumerated() {
            for (oi, outcome) in GatewayMetrics.outcomeLabels.enumerated() where m.requests(method: mi, outcome: oi) > 0 {
                p.sample("openclaw_requests_total", [("method", method), ("outcome", outcome)], m.requests(method: mi, outcome: oi))
            }
        }
        p.family("openclaw_request_duration_seconds", "histogram",
                 "Time from a request's dispatch to its (first) answer, by method.")
        for (mi, method) in GatewayMetrics.methodLabels.enumerated() {
            let row = m.latencyBuckets(method: mi)
            let count = row.reduce(0, &+)
            guard count > 0 else { continue }
            var cumulative: UInt64 = 0
            for (bi, n) in row.enumerated() {
                cumulative &+= n
                let le = bi < GatewayMetrics.bucketBoundsNs.count
                    ? PrometheusText.seconds(ns: UInt64(GatewayMetrics.bucketBoundsNs[bi])) : "+Inf"
                p.sample("openclaw_request_duration_seconds_bucket", [("method", method), ("le", le)], cumulative)
            }
            p.sample("openclaw_request_duration_seconds_sum", [("method", method)],
                     PrometheusText.seconds(ns: m.latencySumNs(method: mi)))
            p.sample("openclaw_request_duration_seconds_count", [("method", method)], count)
        }

        p.family("openclaw_events_sent_total", "counter", "Event frames sent to clients, by event.")
        for (i, event) in GatewayMetrics.eventLabels.enumerated() where m.eventsSent[i] > 0 {
            p.sample("openclaw_events_sent_total", [("event", event)], m.eventsSent[i])
        }
        p.family("openclaw_state_events_skipped_total", "counter",
                 "State events (tick, presence, health) skipped for a client with a backlog; the next one supersedes them.")
        p.sample("openclaw_state_events_skipped_total", [], m.stateEventsSkipped)
        p.family("openclaw_slow_consumer_disconnects_total", "counter",
                 "Clients dropped because their unsent output passed policy.maxBufferedBytes.")
        p.sample("openclaw_slow_consumer_disconnects_total", [], m.slowConsumerDisconnects)
        p.family("openclaw_frames_rejected_total", "counter",
                 "Frames after hello-ok that were not a valid req or cancel (answered or logged; the connection stays).")
        p.sample("openclaw_frames_rejected_total", [], m.framesRejected)
        p.family("openclaw_cancels_total", "counter",
                 "cancel frames, by outcome: applied (a running request was cancelled) or ignored.")
        p.sample("openclaw_cancels_total", [("outcome", "applied")], m.cancelsApplied)
        p.sample("openclaw_cancels_total", [("outcome", "ignored")], m.cancelsIgnored)

        p.family("openclaw_auth_failures_total", "counter", "Refused connect attempts, by details.code.")
        for (code, n) in m.authFailures.sorted(by: { $0.key < $1.key }) {
            p.sample("openclaw_auth_failures_total", [("code", code)], n)
        }
        p.family("openclaw_agent_runs_total", "counter", "Finished agent runs, by outcome (ok, error, timeout, aborted).")
        for (outcome, n) in m.agentRuns.sorted(by: { $0.key < $1.key }) {
            p.sample("openclaw_agent_runs_total", [("outcome", outcome)], n)
        }
        p.family("openclaw_sends_total", "counter", "Answered send requests, by outcome (ok or the error code).")
        for (outcome, n) in m.sends.sorted(by: { $0.key < $1.key }) {
            p.sample("openclaw_sends_total", [("outcome", outcome)], n)
        }

        p.family("openclaw_channel_linked", "gauge", "1 while the configured channel is linked (can send), else 0.")
        let links = channels.linkStates()
        for link in links { p.sample("openclaw_channel_linked", [("channel", link.id)], link.linked ? 1 : 0) }
        p.family("openclaw_channel_connected", "gauge", "1 while the channel's transport is connected, else 0.")
        for link in links { p.sample("openclaw_channel_connected", [("channel", link.id)], link.connected ? 1 : 0) }
        return p.text
    }
}
