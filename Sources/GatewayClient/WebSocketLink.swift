import GatewayProtocol
import JSONCore
import WebSocketCodec

/// The WebSocket layer of the client: upgrade, masked frames out, protocol
/// frames in, pings answered and closes completed on the way. Once it has
/// failed, every later operation rethrows the same error.
final class WebSocketLink {
    let url: String
    /// Two tick intervals: hearing nothing for that long means the link is dead (PROTOCOL.md, close 4000).
    var silenceLimitMs: Double?

    private let socket: ClientSocket
    private var parser = WebSocketParser(role: .client, maxMessageSize: GatewayConnection.maxMessageSize)
    private var readBuffer = [UInt8](repeating: 0, count: 64 * 1024)
    private var lastHeardMs = monotonicMs()
    private var failure: GatewayClientError?
    private var rng = SystemRandomNumberGenerator()

    private init(url: String, socket: ClientSocket) {
        self.url = url
        self.socket = socket
    }

    /// TCP connect and HTTP upgrade.
    static func open(url: String, endpoint: Endpoint, deadline: Double) throws(GatewayClientError) -> WebSocketLink {
        let socket: ClientSocket
        do {
            socket = try ClientSocket.connect(host: endpoint.host, port: endpoint.port, deadline: deadline)
        } catch {
            switch error {
            case .timedOut: throw .timeout(url: url, what: "the TCP connection")
            case .unreachable(let reason), .failed(let reason): throw .unreachable(url: url, reason: reason)
            case .eof: throw .unreachable(url: url, reason: "connection closed")
            }
        }
        let link = WebSocketLink(url: url, socket: socket)
        let key = ClientHandshake.makeKey()
        try link.write(ClientHandshake.request(host: endpoint.host, port: endpoint.port, path: endpoint.path, key: key),
                       deadline: deadline, what: "the WebSocket upgrade")
        var head = HTTPHeadParser(kind: .response)
        while true {
            let n = try link.receive(deadline: deadline, what: "the WebSocket upgrade")
            let parsed: (head: HTTPHead, leftover: [UInt8])?
            do {
                parsed = try head.feed(Array(link.readBuffer[..<n]))
            } catch {
                throw link.fail(.protocolViolation(url: url, reason: "unreadable HTTP response: \(error.reason)"))
            }
            guard let parsed else { continue }
            if let problem = ClientHandshake.validate(response: parsed.head, key: key) {
                throw link.fail(.protocolViolation(url: url, reason: problem))
            }
            link.parser.feed(parsed.leftover)
            return link
        }
    }

    func send(_ frame: Frame, deadline: Double) throws(GatewayClientError) {
        try sendFrame(.text, payload: frame.json.serialized(), deadline: deadline)
    }

    /// Reads protocol frames until `accept` takes one (returned) or the deadline passes (nil).
    func readFrame(until deadline: Double, what: String, accept: (Frame) -> Bool) throws(GatewayClientError) -> Frame? {
        while let message = try readMessage(until: deadline, what: what) {
            guard case .text(let bytes) = message else {
                throw fail(.protocolViolation(url: url, reason: "binary WebSocket message"), close: .unsupportedData)
            }
            let frame: Frame
            do {
                frame = try Frame(json: JSONValue.parse(bytes))
            } catch {
                throw fail(.protocolViolation(url: url, reason: "unreadable frame: \(error)"), close: .policyViolation)
            }
            if accept(frame) { return frame }
        }
        return nil
    }

    /// After a refused handshake: the close code the gateway sends, if it comes before `deadline`.
    func awaitClose(until deadline: Double) -> UInt16? {
        do {
            while try readMessage(until: deadline, what: "the close frame") != nil {}
        } catch {
            if case .closed(_, let code, _) = error { return code }
        }
        return nil
    }

    /// Starts the closing handshake (RFC 6455 §7) and waits up to 250 ms for
    /// the gateway's close so it, not us, ends the TCP connection.
    func close(code: WebSocketCloseCode = .normalClosure, reason: String = "") {
        guard failure == nil else { return socket.close() }
        let deadline = monotonicMs() + 250
        failure = .closed(url: url, code: code.rawValue, reason: "connection closed by the client")
        do {
            try sendClose(code, reason: reason, deadline: deadline)
            while true {
                feedParser(try socket.receive(into: &readBuffer, deadline: deadline))
                while case let message? = try? parser.next() {
                    if case .close = message { return socket.close() }
                }
            }
        } catch {
            // Timed out or the peer is gone: either way the socket goes now.
        }
        socket.close()
    }

    private func readMessage(until deadline: Double, what: String) throws(GatewayClientError) -> WebSocketMessage? {
        if let failure { throw failure }
        while true {
            let message: WebSocketMessage?
            do {
                message = try parser.next()
            } catch {
                throw fail(.protocolViolation(url: url, reason: "invalid WebSocket data: \(error.reason)"), close: error.closeCode)
            }
            switch message {
            case .ping(let payload)?:
                try sendFrame(.pong, payload: payload, deadline: monotonicMs() + 1000)
            case .pong?:
                continue
            case .close(let code, let reason)?:
                // Complete the closing handshake, then report why the gateway hung up.
                try? sendClose(code.map(WebSocketCloseCode.init(rawValue:)), deadline: monotonicMs() + 250)
                throw fail(.closed(url: url, code: code, reason: reason))
            case let message?:
                return message
            case nil:
                var waitUntil = deadline
                if let silenceLimitMs { waitUntil = min(deadline, lastHeardMs + silenceLimitMs) }
                let n: Int
                do {
                    n = try receive(deadline: waitUntil, what: what)
                } catch {
                    if case .timeout = error, waitUntil < deadline, let silenceLimitMs {
                        throw fail(.closed(url: url, code: 4000, reason: "nothing heard for \(Int(silenceLimitMs)) ms"),
                                   close: WebSocketCloseCode(4000))
                    }
                    if case .timeout = error { return nil }
                    throw error
                }
                feedParser(n)
            }
        }
    }

    private func feedParser(_ count: Int) {
        readBuffer.withUnsafeBytes { parser.feed(UnsafeRawBufferPointer(rebasing: $0[..<count])) }
    }

    /// A close frame straight to the socket (it must go out even after the link has failed); nil code: empty payload.
    private func sendClose(_ code: WebSocketCloseCode?, reason: String = "", deadline: Double) throws(SocketFailure) {
        var out: [UInt8] = []
        let payload = code.map { FrameEncoder.closePayload(code: $0, reason: reason) } ?? []
        FrameEncoder.append(.close, payload: payload, maskingKey: rng.next(), to: &out)
        try socket.sendAll(out, deadline: deadline)
    }

    private func sendFrame(_ opcode: Opcode, payload: [UInt8], deadline: Double) throws(GatewayClientError) {
        if let failure { throw failure }
        var out: [UInt8] = []
        FrameEncoder.append(opcode, payload: payload, maskingKey: rng.next(), to: &out)
        try write(out, deadline: deadline, what: "sending a frame")
    }

    private func write(_ bytes: [UInt8], deadline: Double, what: String) throws(GatewayClientError) {
        do {
            try socket.sendAll(bytes, deadline: deadline)
        } catch {
            throw fail(socketError(error, what: what))
        }
    }

    /// One read into `readBuffer`; a timeout leaves the link usable, anything else ends it.
    private func receive(deadline: Double, what: String) throws(GatewayClientError) -> Int {
        do {
            let n = try socket.receive(into: &readBuffer, deadline: deadline)
            lastHeardMs = monotonicMs()
            return n
        } catch {
            if case .timedOut = error { throw .timeout(url: url, what: what) }
            throw fail(socketError(error, what: what))
        }
    }

    private func socketError(_ error: SocketFailure, what: String) -> GatewayClientError {
        switch error {
        case .timedOut: return .timeout(url: url, what: what)
        case .eof: return .closed(url: url, code: nil, reason: "connection lost")
        case .unreachable(let reason), .failed(let reason): return .closed(url: url, code: nil, reason: reason)
        }
    }

    /// Records the error that ends the link, tells the gateway why when a close code applies, and closes the socket.
    private func fail(_ error: GatewayClientError, close code: WebSocketCloseCode? = nil) -> GatewayClientError {
        if failure == nil {
            failure = error
            if let code { try? sendClose(code, deadline: monotonicMs() + 250) }
            socket.close()
        }
        return error
    }
}
