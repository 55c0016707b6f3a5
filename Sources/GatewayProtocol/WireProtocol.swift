import CLinux
import JSONCore

/// Constants of the gateway wire protocol (PROTOCOL.md, upstream version 4).
public enum WireProtocol {
    public static let version: Int64 = 4
    /// The previous protocol, still admitted for `probe` clients and the `node` role
    /// (as upstream does): the frames and the methods they use did not change.
    public static let legacyVersion: Int64 = 3
    public static let defaultPort: Int = 18789
    public static let defaultBind = "127.0.0.1"
    /// Frames larger than this before hello-ok close the socket with 1009.
    public static let preHandshakeMaxPayload = 64 * 1024
    /// Unsent output a connection may hold before hello-ok (then `policy.maxBufferedBytes`).
    public static let preHandshakeMaxOutput = 64 * 1024
    /// Longest client-supplied string the gateway keeps and repeats to others (presence
    /// text, client id, display name, ...), in UTF-8 bytes. Every client's presence is in
    /// every hello-ok and presence event, so one client's strings must stay small.
    public static let maxClientStringBytes = 1024
    /// Most scopes a client may request in `connect`.
    public static let maxScopes = 16
}

/// Error codes a `res` frame can carry.
public enum ErrorCode: String, Sendable, CaseIterable {
    case invalidRequest = "INVALID_REQUEST"
    case unavailable = "UNAVAILABLE"
    case forbidden = "FORBIDDEN"
    case notLinked = "NOT_LINKED"
    case agentTimeout = "AGENT_TIMEOUT"
}

/// The `error` object of a failed response.
public struct RPCError: Error, Sendable, Equatable {
    public var code: String
    public var message: String
    public var details: JSONValue?
    public var retryable: Bool?
    public var retryAfterMs: Int64?

    public init(_ code: ErrorCode, _ message: String, details: JSONValue? = nil, retryable: Bool? = nil,
                retryAfterMs: Int64? = nil) {
        self.init(code: code.rawValue, message: message, details: details, retryable: retryable,
                  retryAfterMs: retryAfterMs)
    }

    public init(code: String, message: String, details: JSONValue? = nil, retryable: Bool? = nil,
                retryAfterMs: Int64? = nil) {
        self.code = code
        self.message = message
        self.details = details
        self.retryable = retryable
        self.retryAfterMs = retryAfterMs
    }

    public var json: JSONValue {
        var o = JSONObject()
        o["code"] = .string(code)
        o["message"] = .string(message)
        if let details { o["details"] = details }
        if let retryable { o["retryable"] = .bool(retryable) }
        if let retryAfterMs { o["retryAfterMs"] = .int(retryAfterMs) }
        return .object(o)
    }

    public init?(json: JSONValue) {
        guard let code = json["code"]?.stringValue else { return nil }
        self.init(code: code, message: json["message"]?.stringValue ?? "", details: json["details"],
                  retryable: json["retryable"]?.boolValue, retryAfterMs: json["retryAfterMs"]?.intValue)
    }
}

/// One protocol frame. The gateway rejects frames whose `type` is missing or unknown.
public enum Frame: Sendable, Equatable {
    case request(id: String, method: String, params: JSONValue?)
    /// Client → gateway: stop working on the request `id` (upstream's client sends it when
    /// a request times out or is aborted). Never answered; unknown ids are ignored.
    case cancel(id: String)
    case response(id: String, ok: Bool, payload: JSONValue?, error: RPCError?)
    case event(name: String, payload: JSONValue?, seq: Int64?, stateVersion: StateVersion?)

    /// Reads a frame from a parsed JSON value; the error names what is wrong.
    public init(json: JSONValue) throws(RPCError) {
        guard case .object(let o) = json else {
            throw RPCError(.invalidRequest, "frame must be a JSON object")
        }
        guard let type = o["type"]?.stringValue else {
            throw RPCError(.invalidRequest, "frame has no type")
        }
        switch type {
        case "req":
            guard let id = o["id"]?.stringValue, !id.isEmpty else {
                throw RPCError(.invalidRequest, "request id must be a non-empty string")
            }
            guard let method = o["method"]?.stringValue, !method.isEmpty else {
                throw RPCError(.invalidRequest, "request method must be a non-empty string")
            }
            self = .request(id: id, method: method, params: o["params"])
        case "cancel":
            guard let id = o["id"]?.stringValue, !id.isEmpty else {
                throw RPCError(.invalidRequest, "cancel id must be a non-empty string")
            }
            self = .cancel(id: id)
        case "res":
            guard let id = o["id"]?.stringValue, let ok = o["ok"]?.boolValue else {
                throw RPCError(.invalidRequest, "response needs id and ok")
            }
            self = .response(id: id, ok: ok, payload: o["payload"], error: o["error"].flatMap(RPCError.init(json:)))
        case "event":
            guard let name = o["event"]?.stringValue else {
                throw RPCError(.invalidRequest, "event frame has no event name")
            }
            self = .event(name: name, payload: o["payload"], seq: o["seq"]?.intValue,
                          stateVersion: o["stateVersion"].flatMap(StateVersion.init(json:)))
        default:
            throw RPCError(.invalidRequest, "unknown frame type: \(type)")
        }
    }

    public var json: JSONValue {
        var o = JSONObject()
        switch self {
        case .request(let id, let method, let params):
            o["type"] = "req"
            o["id"] = .string(id)
            o["method"] = .string(method)
            if let params { o["params"] = params }
        case .cancel(let id):
            o["type"] = "cancel"
            o["id"] = .string(id)
        case .response(let id, let ok, let payload, let error):
            o["type"] = "res"
            o["id"] = .string(id)
            o["ok"] = .bool(ok)
            if let payload { o["payload"] = payload }
            if let error { o["error"] = error.json }
        case .event(let name, let payload, let seq, let stateVersion):
            o["type"] = "event"
            o["event"] = .string(name)
            if let payload { o["payload"] = payload }
            if let seq { o["seq"] = .int(seq) }
            if let stateVersion { o["stateVersion"] = stateVersion.json }
        }
        return .object(o)
    }
}

/// Counts of changes to presence and health, sent with `presence`/`health` events.
public struct StateVersion: Sendable, Equatable {
    public var presence: Int64
    public var health: Int64

    public init(presence: Int64 = 0, health: Int64 = 0) {
        self.presence = presence
        self.health = health
    }

    public init?(json: JSONValue) {
        guard let p = json["presence"]?.intValue, let h = json["health"]?.intValue else { return nil }
        self.init(presence: p, health: h)
    }

    public var json: JSONValue { ["presence": .int(presence), "health": .int(health)] }

    /// `json`, written typed (events and hello-ok are written without a tree).
    public func write(to w: inout JSONByteWriter) {
        w.beginObject()
        w.key("presence"); w.int(presence)
        w.key("health"); w.int(health)
        w.endObject()
    }
}

/// Method and event names this product serves (advertised in hello-ok `features`).
public enum Methods {
    public static let all = [
        "health", "status", "system-presence", "system-event", "logs.tail", "channels.status",
        "send", "agent", "agent.wait", "sessions.list", "chat.history", "chat.send", "last-heartbeat",
    ]
}

public enum Events {
    public static let all = ["connect.challenge", "tick", "presence", "health", "shutdown", "agent", "chat", "chat.inbound"]
}

/// The product version, reported in hello-ok, `status`, `--version` and the units' description,
/// with the commit and build date: read from the build stamp that packaging writes into the
/// binary (scripts/stamp-build.sh); a development build says 0.1.0 and "unknown".
public enum BuildInfo {
    public static let version = stamp["version"] ?? "0.1.0"
    public static let commit = stamp["commit"] ?? "unknown"
    public static let buildDate = stamp["date"] ?? "unknown"

    private static let stamp: [String: String] = parse(String(cString: clinux_build_stamp()))

    /// "version=1.2.3;commit=abc;date=…" → its pairs.
    static func parse(_ text: String) -> [String: String] {
        var pairs: [String: String] = [:]
        for item in text.split(separator: ";") {
            let kv = item.split(separator: "=", maxSplits: 1)
            if kv.count == 2 { pairs[String(kv[0])] = String(kv[1]) }
        }
        return pairs
    }
}
