import GatewayProtocol
import JSONCore
import NetIO
import OpenClawConfig
import WebSocketCodec

/// Plain HTTP on the WebSocket port, for curl, load balancers, systemd checks and Prometheus:
///
/// - `GET /healthz`: liveness, `200 {"ok":true,"version":…}` while serving, 503 while stopping;
/// - `GET /readyz`: readiness, 200 only when the listeners are up and every configured
///   channel is linked, else 503 naming each reason;
/// - `GET /metrics`: the Prometheus text format, to loopback peers unless `gateway.metrics` says otherwise.
///
/// None needs auth, so none says more than states and counts (no errors, addresses or names
/// beyond channel ids). Each answer closes the connection.
extension GatewayServer {
    func answerPlainHTTP(_ head: HTTPHead, peer: SocketAddress?) -> [UInt8] {
        let path = head.target.split(separator: "?", maxSplits: 1).first.map(String.init) ?? head.target
        guard head.method == "GET" || head.method == "HEAD" else {
            return Self.plain(404, "Not Found", "not found: this port serves the OpenClaw gateway WebSocket, "
                + "GET /healthz, /readyz and /metrics\n", head: head)
        }
        switch path {
        case "/healthz":
            let ok = isReady
            let body: JSONValue = ["ok": .bool(ok), "version": .string(BuildInfo.version)]
            return Self.json(ok ? 200 : 503, body, head: head)
        case "/readyz":
            let reasons = readinessProblems()
            var body = JSONObject()
            body["ready"] = .bool(reasons.isEmpty)
            if !reasons.isEmpty { body["reasons"] = .array(reasons.map(JSONValue.string)) }
            return Self.json(reasons.isEmpty ? 200 : 503, .object(body), head: head)
        case "/metrics":
            switch settings.metricsAccess {
            case .off:
                return Self.plain(404, "Not Found", "metrics are turned off (gateway.metrics is \"off\")\n", head: head)
            case .loopback where !(peer.map { Self.isLoopbackPeer($0.host) } ?? false):
                return Self.plain(403, "Forbidden", "metrics are served to loopback clients only; set gateway.metrics "
                    + "to \"any\" in \(settings.paths.configPath) to serve them to other hosts\n", head: head)
            case .loopback, .any:
                return HTTPResponse.make(status: 200, reason: "OK",
                                         headers: [("Content-Type", "text/plain; version=0.0.4; charset=utf-8")],
                                         body: head.method == "HEAD" ? [] : Array(metricsText().utf8))
            }
        default:
            return Self.plain(404, "Not Found", "not found: this port serves the OpenClaw gateway WebSocket, "
                + "GET /healthz, /readyz and /metrics\n", head: head)
        }
    }

    /// Why the gateway is not ready; empty when it is. Channel ids and states only:
    /// `/readyz` needs no auth, so the channels' error texts stay in `health`/`status`.
    func readinessProblems() -> [String] {
        guard isReady else { return ["gateway: \(isStopping ? "stopping" : "starting")"] }
        var reasons: [String] = []
        if listeners.isEmpty { reasons.append("gateway: no listening socket") }
        for link in channels.linkStates() where !link.linked {
            reasons.append("channel \(link.id): not linked (\(link.connected ? "registering" : "disconnected"))")
        }
        return reasons
    }

    /// 127.0.0.0/8, ::1, and IPv4-mapped loopback on a dual-stack socket.
    static func isLoopbackPeer(_ host: String) -> Bool {
        GatewaySettings.isLoopback(host) || host.hasPrefix("::ffff:127.")
    }

    private static func json(_ status: Int, _ body: JSONValue, head: HTTPHead) -> [UInt8] {
        HTTPResponse.make(status: status, reason: status == 200 ? "OK" : "Service Unavailable",
                          headers: [("Content-Type", "application/json"), ("Cache-Control", "no-store")],
                          body: head.method == "HEAD" ? [] : body.serialized())
    }

    private static func plain(_ status: Int, _ reason: String, _ text: String, head: HTTPHead) -> [UInt8] {
        HTTPResponse.make(status: status, reason: reason, headers: [("Content-Type", "text/plain")],
                          body: head.method == "HEAD" ? [] : Array(text.utf8))
    }
}
