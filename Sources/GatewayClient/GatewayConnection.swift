import GatewayProtocol
import JSONCore
import WebSocketCodec

/// A blocking connection to the gateway for the CLI: one thread, no
/// background work, every wait bounded by a deadline. Events that arrive
/// while a call waits for its response are queued (bounded) for `nextEvent`.
public final class GatewayConnection {
    public let url: String
    /// The hello-ok payload.
    public let hello: JSONValue
    /// From the start of the TCP connect to hello-ok.
    public let roundTripMs: Double

    private let link: WebSocketLink
    private let requestTimeoutMs: Int
    private var lastRequestID = 1
    private var queuedEvents: [(name: String, payload: JSONValue?)] = []
    /// Enough for a burst of presence/health/agent events during a slow call; older ones are dropped.
    private static let maxQueuedEvents = 1024
    /// The gateway's messages may be large (logs.tail allows 1 MB of lines, JSON-escaped); anything far beyond is a bug.
    static let maxMessageSize = 64 << 20

    private init(url: String, link: WebSocketLink, hello: JSONValue, roundTripMs: Double, requestTimeoutMs: Int) {
        self.url = url
        self.link = link
        self.hello = hello
        self.roundTripMs = roundTripMs
        self.requestTimeoutMs = requestTimeoutMs
    }

    deinit { link.close() }

    /// `url` is `ws://host[:port][/path]`; the port defaults to the gateway's (18789), not 80.
    /// `connectTimeoutMs` bounds everything up to hello-ok.
    public static func connect(url: String, token: String?, password: String?, identity: ClientIdentity,
                               connectTimeoutMs: Int = 10_000, requestTimeoutMs: Int = 30_000)
        throws(GatewayClientError) -> GatewayConnection
    {
        let start = monotonicMs()
        let deadline = start + Double(connectTimeoutMs)
        let endpoint = try Endpoint(url)
        let link = try WebSocketLink.open(url: url, endpoint: endpoint, deadline: deadline)

        let challenge = try link.readFrame(until: deadline, what: "the connect.challenge event") { frame in
            if case .event(name: "connect.challenge", _, _, _) = frame { return true }
            return false
        }
        guard challenge != nil else { throw .timeout(url: url, what: "the connect.challenge event") }

        var auth = JSONObject()
        if let token { auth["token"] = .string(token) }
        if let password { auth["password"] = .string(password) }
        var params = JSONObject([
            ("minProtocol", .int(WireProtocol.version)), ("maxProtocol", .int(WireProtocol.version)),
            ("client", identity.json), ("role", "operator"),
            ("scopes", ["operator.read", "operator.write", "operator.admin"]),
        ])
        if !auth.isEmpty { params["auth"] = .object(auth) }
        let connectID = "1"
        try link.send(.request(id: connectID, method: "connect", params: .object(params)), deadline: deadline)

        let reply = try link.readFrame(until: deadline, what: "hello-ok") { frame in
            if case .response(id: connectID, _, _, _) = frame { return true }
            return false
        }
        guard case .response(_, let ok, let payload, let error)? = reply else { throw .timeout(url: url, what: "hello-ok") }
        guard ok else {
            let error = error ?? RPCError(.invalidRequest, "connect refused without a reason")
            // The gateway closes right after refusing; wait briefly so the close code can be reported.
            let closeCode = link.awaitClose(until: min(deadline, monotonicMs() + 500))
            throw .handshakeRejected(url: url, error: error, closeCode: closeCode)
        }
        guard let payload, payload["type"]?.stringValue == "hello-ok" else {
            link.close(code: .protocolError, reason: "expected hello-ok")
            throw .protocolViolation(url: url, reason: "connect succeeded without a hello-ok payload")
        }
        if let tick = payload["policy"]?["tickIntervalMs"]?.intValue, tick > 0 {
            link.silenceLimitMs = 2 * Double(tick)
        }
        return GatewayConnection(url: url, link: link, hello: payload, roundTripMs: monotonicMs() - start,
                                 requestTimeoutMs: requestTimeoutMs)
    }

    /// The payload of the response; an `ok:false` response throws `.rpc`.
    public func call(_ method: String, params: JSONValue = [:], timeoutMs: Int? = nil) throws(GatewayClientError) -> JSONValue {
        try stream(method, params: params, timeoutMs: timeoutMs, onEvent: enqueue, onResponse: { _ in true })
    }

    /// For methods answered more than once with the same id (`agent`: accepted, then final): calls onEvent for
    /// every event frame meanwhile, onResponse for each res with that id; returns the response for which
    /// onResponse returned true (done). `timeoutMs` bounds the whole exchange.
    public func stream(_ method: String, params: JSONValue, timeoutMs: Int?, onEvent: (String, JSONValue?) -> Void,
                       onResponse: (JSONValue) -> Bool) throws(GatewayClientError) -> JSONValue
    {
        let deadline = monotonicMs() + Double(timeoutMs ?? requestTimeoutMs)
        lastRequestID += 1
        let id = String(lastRequestID)
        try link.send(.request(id: id, method: method, params: params), deadline: deadline)
        let what = "the response to \(method)"
        while true {
            let frame = try link.readFrame(until: deadline, what: what) { _ in true }
            switch frame {
            case nil:
                // As upstream's client does: tell the gateway to stop working on it (best effort).
                try? link.send(.cancel(id: id), deadline: monotonicMs() + 200)
                throw .timeout(url: url, what: what)
            case .event(let name, let payload, _, _):
                onEvent(name, payload)
            case .response(id, let ok, let payload, let error):
                guard ok else { throw .rpc(error ?? RPCError(.unavailable, "\(method) failed without an error")) }
                if onResponse(payload ?? .null) { return payload ?? .null }
            default:
                continue  // a late answer to a call that already timed out
            }
        }
    }

    /// The next event (queued ones first), or nil when none arrives within `timeoutMs`.
    public func nextEvent(timeoutMs: Int) throws(GatewayClientError) -> (name: String, payload: JSONValue?)? {
        if !queuedEvents.isEmpty { return queuedEvents.removeFirst() }
        let frame = try link.readFrame(until: monotonicMs() + Double(timeoutMs), what: "an event") { frame in
            if case .event = frame { return true }
            return false
        }
        guard case .event(let name, let payload, _, _)? = frame else { return nil }
        return (name, payload)
    }

    /// Sends a normal close and waits briefly for the gateway's answer, so the server side sees a clean close.
    public func close() {
        link.close(code: .normalClosure, reason: "")
    }

    private func enqueue(_ name: String, _ payload: JSONValue?) {
        if queuedEvents.count >= Self.maxQueuedEvents { queuedEvents.removeFirst() }
        queuedEvents.append((name, payload))
    }
}

/// The parts of a `ws://` URL.
struct Endpoint {
    var host: String
    var port: Int
    var path: String

    init(_ url: String) throws(GatewayClientError) {
        guard url.hasPrefix("ws://") else {
            let reason = url.hasPrefix("wss://") ? "wss:// is not supported, use ws://" : "the URL must start with ws://"
            throw .unreachable(url: url, reason: reason)
        }
        let rest = url.dropFirst(5)
        let authority = rest.prefix { $0 != "/" && $0 != "?" }
        path = rest.count > authority.count ? String(rest.dropFirst(authority.count)) : "/"
        if path.first == "?" { path = "/" + path }
        var portText: Substring?
        if authority.hasPrefix("[") {
            guard let close = authority.firstIndex(of: "]") else { throw .unreachable(url: url, reason: "unterminated IPv6 address") }
            host = String(authority[authority.index(after: authority.startIndex)..<close])
            let after = authority[authority.index(after: close)...]
            if !after.isEmpty {
                guard after.first == ":" else { throw .unreachable(url: url, reason: "malformed host") }
                portText = after.dropFirst()
            }
        } else if let colon = authority.lastIndex(of: ":") {
            host = String(authority[..<colon])
            portText = authority[authority.index(after: colon)...]
        } else {
            host = String(authority)
        }
        guard !host.isEmpty else { throw .unreachable(url: url, reason: "no host in URL") }
        if let portText {
            guard let p = Int(portText), (1...65535).contains(p) else { throw .unreachable(url: url, reason: "invalid port") }
            port = p
        } else {
            port = WireProtocol.defaultPort
        }
    }
}
