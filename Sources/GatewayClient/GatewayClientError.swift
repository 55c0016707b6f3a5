import GatewayProtocol
import JSONCore

/// Who the CLI says it is in the `connect` request (shown in presence and logs).
public struct ClientIdentity: Sendable {
    public var id: String
    public var version: String
    /// `cli` for commands, `probe` for status checks that should not count as a real client.
    public var mode: String
    public var platform: String
    public var displayName: String?

    public init(id: String = "openclaw-cli", version: String, mode: String = "cli", platform: String = "linux",
                displayName: String? = nil) {
        self.id = id
        self.version = version
        self.mode = mode
        self.platform = platform
        self.displayName = displayName
    }

    var json: JSONValue {
        var o = JSONObject([("id", .string(id)), ("version", .string(version)), ("platform", .string(platform)),
                            ("mode", .string(mode))])
        if let displayName { o["displayName"] = .string(displayName) }
        return .object(o)
    }
}

public enum GatewayClientError: Error, Sendable, CustomStringConvertible {
    /// Connect refused, no route, or the host name does not resolve.
    case unreachable(url: String, reason: String)
    case timeout(url: String, what: String)
    /// The `connect` request was answered with an error; `closeCode` is the close that followed, if it came in time.
    case handshakeRejected(url: String, error: RPCError, closeCode: UInt16?)
    /// An `ok:false` response to a call.
    case rpc(RPCError)
    /// `code` is nil when the socket ended without a close frame (1006).
    case closed(url: String, code: UInt16?, reason: String)
    case protocolViolation(url: String, reason: String)

    public var description: String {
        let hint = "run `openclaw gateway status` to check the gateway"
        switch self {
        case .unreachable(let url, let reason):
            return "Cannot reach the OpenClaw gateway at \(url) (\(reason)); is it running? \(capitalized(hint))."
        case .timeout(let url, let what):
            return "The OpenClaw gateway at \(url) did not answer in time (waiting for \(what)); \(hint)."
        case .handshakeRejected(let url, let error, _):
            let detail = error.details?["code"]?.stringValue.map { "\(error.code)/\($0)" } ?? error.code
            let auth = detail.contains("AUTH") || error.code == ErrorCode.forbidden.rawValue
                ? " check the gateway token or password you passed;" : ""
            return "The OpenClaw gateway at \(url) refused the connection: \(error.message) (\(detail));\(auth) \(hint)."
        case .rpc(let error):
            return "The gateway answered with an error: \(error.message) (\(error.code))."
        case .closed(let url, let code, let reason):
            let how = code.map { "with code \($0)" } ?? "without a close frame"
            let why = reason.isEmpty ? "" : ": \(reason)"
            return "The OpenClaw gateway at \(url) closed the connection \(how)\(why); \(hint)."
        case .protocolViolation(let url, let reason):
            return "The server at \(url) does not speak the OpenClaw gateway protocol (\(reason)); \(hint)."
        }
    }

    /// The gateway's `details.code` when it refused our secret (`AUTH_TOKEN_MISMATCH`,
    /// `AUTH_RATE_LIMITED`, …): a definite answer that retrying with the same secret will not change.
    public var authRefusal: String? {
        guard case .handshakeRejected(_, let error, _) = self else { return nil }
        if let code = error.details?["code"]?.stringValue, code.hasPrefix("AUTH_") { return code }
        return error.code == ErrorCode.forbidden.rawValue ? error.code : nil
    }

    private func capitalized(_ s: String) -> String { s.prefix(1).uppercased() + s.dropFirst() }
}
