/// What the server does with a request head.
public enum UpgradeOutcome: Sendable {
    /// 101 Switching Protocols with `Sec-WebSocket-Accept`; no subprotocol or extension is negotiated.
    case accept(response: [UInt8])
    /// 400 for a malformed upgrade, 426 (with `Sec-WebSocket-Version: 13`) for another protocol version.
    case reject(status: Int, reason: String, response: [UInt8])
    /// A plain HTTP request: the caller answers it (/healthz, 404).
    case notUpgrade
}

/// Server side of the opening handshake (RFC 6455 §4.2).
public enum ServerHandshake {
    /// RFC 6455 §1.3: appended to the client key before hashing.
    static let guid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

    /// A request counts as an upgrade attempt when it carries `Upgrade` or any
    /// `Sec-WebSocket-Key`/`-Version` header, so a half-formed WebSocket request
    /// gets a 400 naming what is missing instead of a confusing 404.
    public static func evaluate(_ head: HTTPHead) -> UpgradeOutcome {
        guard head.header("Upgrade") != nil || head.header("Sec-WebSocket-Key") != nil
            || head.header("Sec-WebSocket-Version") != nil
        else { return .notUpgrade }

        guard head.method == "GET" else { return reject(400, "WebSocket upgrade requires GET") }
        guard let minor = head.minorVersion, minor >= 1 else { return reject(400, "WebSocket upgrade requires HTTP/1.1") }
        guard head.hasToken("websocket", inHeader: "Upgrade") else {
            return reject(400, "Upgrade header must include websocket")
        }
        guard head.hasToken("upgrade", inHeader: "Connection") else {
            return reject(400, "Connection header must include upgrade")
        }
        guard head.header("Sec-WebSocket-Version") == "13" else {
            return reject(426, "unsupported WebSocket version (expected 13)", extra: [("Sec-WebSocket-Version", "13")])
        }
        guard let key = head.header("Sec-WebSocket-Key"), Base64.decode(key)?.count == 16 else {
            return reject(400, "Sec-WebSocket-Key must be base64 of 16 bytes")
        }
        var response: [UInt8] = []
        response.reserveCapacity(160)
        response.append(contentsOf: "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n".utf8)
        response.append(contentsOf: "Sec-WebSocket-Accept: \(acceptValue(forKey: key))\r\n\r\n".utf8)
        return .accept(response: response)
    }

    public static func acceptValue(forKey key: String) -> String {
        Base64.encode(SHA1.hash(Array((key + guid).utf8)))
    }

    private static func reject(_ status: Int, _ reason: String, extra: [(String, String)] = []) -> UpgradeOutcome {
        let phrase = status == 426 ? "Upgrade Required" : "Bad Request"
        let response = HTTPResponse.make(status: status, reason: phrase,
                                         headers: extra + [("Content-Type", "text/plain; charset=utf-8")],
                                         body: Array((reason + "\n").utf8))
        return .reject(status: status, reason: reason, response: response)
    }
}

/// Client side of the opening handshake (RFC 6455 §4.1).
public enum ClientHandshake {
    public static func request(host: String, port: Int, path: String, key: String) -> [UInt8] {
        let hostPart = host.contains(":") && !host.hasPrefix("[") ? "[\(host)]" : host
        let target = path.isEmpty ? "/" : path
        return Array(("GET \(target) HTTP/1.1\r\nHost: \(hostPart):\(port)\r\nUpgrade: websocket\r\n"
            + "Connection: Upgrade\r\nSec-WebSocket-Key: \(key)\r\nSec-WebSocket-Version: 13\r\n\r\n").utf8)
    }

    /// 16 bytes from the system CSPRNG (getrandom), as the RFC asks for a fresh random nonce.
    public static func makeKey() -> String {
        var rng = SystemRandomNumberGenerator()
        return Base64.encode((0..<16).map { _ in UInt8.random(in: .min ... .max, using: &rng) })
    }

    /// Nil when the response completes the handshake, else why not.
    public static func validate(response: HTTPHead, key: String) -> String? {
        guard let status = response.statusCode else { return "not an HTTP response" }
        guard status == 101 else {
            return "HTTP \(status) \(response.reasonPhrase) instead of 101 Switching Protocols"
        }
        guard response.hasToken("websocket", inHeader: "Upgrade") else { return "101 response without Upgrade: websocket" }
        guard response.hasToken("upgrade", inHeader: "Connection") else { return "101 response without Connection: upgrade" }
        guard let accept = response.header("Sec-WebSocket-Accept") else { return "101 response without Sec-WebSocket-Accept" }
        guard accept == ServerHandshake.acceptValue(forKey: key) else { return "wrong Sec-WebSocket-Accept" }
        if response.header("Sec-WebSocket-Extensions") != nil { return "server selected an extension that was not offered" }
        if response.header("Sec-WebSocket-Protocol") != nil { return "server selected a subprotocol that was not offered" }
        return nil
    }
}
