import GatewayClient
import GatewayProtocol
import ServiceManager

/// The RPC probe behind `gateway status`, `install`, `start` and `restart`: WebSocket connect →
/// hello-ok, then `status` for the details (S1, S5). It identifies as mode `probe` so the
/// gateway need not count it as a real client.
struct ClientProber: GatewayProbing {
    func probe(url: String, token: String?, password: String?, timeoutMs: Int) -> ProbeResult {
        let connection: GatewayConnection
        do {
            connection = try GatewayConnection.connect(
                url: url, token: token, password: password,
                identity: ClientIdentity(version: BuildInfo.version, mode: "probe"),
                connectTimeoutMs: timeoutMs, requestTimeoutMs: timeoutMs)
        } catch {
            var result = ProbeResult(url: url, ok: false, error: Self.reason(error))
            result.authRefusal = error.authRefusal
            return result
        }
        defer { connection.close() }
        var result = ProbeResult(url: url, ok: true)
        result.roundTripMs = connection.roundTripMs
        result.identity = GatewayIdentity(hello: connection.hello)
        result.version = connection.hello["server"]?["version"]?.stringValue
        result.uptimeMs = connection.hello["snapshot"]?["uptimeMs"]?.intValue
        // hello-ok proves reachability; `status` only adds detail, so its failure is not the probe's.
        if let status = try? connection.call("status") {
            result.version = status["version"]?.stringValue ?? result.version
            result.pid = status["pid"]?.intValue
            result.uptimeMs = status["uptimeMs"]?.intValue ?? result.uptimeMs
            result.clients = status["clients"]?.intValue ?? status["clients"]?.arrayValue.map { Int64($0.count) }
            result.activation = status["activation"]?.stringValue
            result.channels = status["channels"]
            result.storage = status["storage"]
            result.handover = status["handover"]
            result.reload = ReloadOutcome(
                count: status["reload"]?["count"]?.intValue ?? 0, error: status["reload"]?["error"]?.stringValue)
        }
        return result
    }

    /// The client's sentences end by recommending `openclaw gateway status`, which is what is
    /// running here; the RPC section only needs the reason (the URL is printed beside it).
    static func reason(_ error: GatewayClientError) -> String {
        switch error {
        case .unreachable(_, let reason): return reason
        case .timeout(_, let what): return "no answer in time (waiting for \(what))"
        case .handshakeRejected(_, let error, _):
            let detail = error.details?["code"]?.stringValue.map { "\(error.code)/\($0)" } ?? error.code
            return "connect refused: \(error.message) (\(detail))"
        case .rpc(let error): return "\(error.message) (\(error.code))"
        case .closed(_, let code, let reason):
            return "closed " + (code.map { "with code \($0)" } ?? "without a close frame") + (reason.isEmpty ? "" : ": \(reason)")
        case .protocolViolation(_, let reason): return "not an OpenClaw gateway (\(reason))"
        }
    }
}
