import Foundation
import GatewayProtocol
import JSONCore
import Testing
import WebSocketCodec
@testable import GatewayClient

/// One accepted connection on the fake gateway, blocking I/O with a receive timeout so a broken test cannot hang.
final class ServerSide {
    let fd: Int32
    var parser = WebSocketParser(role: .server, maxMessageSize: 1 << 20)
    private var pending: [UInt8] = []

    init(fd: Int32) {
        self.fd = fd
        var tv = timeval(tv_sec: 5, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
    }

    deinit { Glibc.close(fd) }

    func write(_ bytes: [UInt8]) { _ = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) } }

    private func read() -> [UInt8]? {
        var buffer = [UInt8](repeating: 0, count: 65536)
        let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        return n > 0 ? Array(buffer[..<n]) : nil
    }

    func readHead() -> HTTPHead? {
        var head = HTTPHeadParser()
        while let bytes = read() {
            if let parsed = try? head.feed(bytes) {
                parser.feed(parsed.leftover)
                return parsed.head
            }
        }
        return nil
    }

    func sendFrame(_ opcode: Opcode, _ payload: [UInt8], mask: UInt32? = nil) {
        var out: [UInt8] = []
        FrameEncoder.append(opcode, payload: payload, maskingKey: mask, to: &out)
        write(out)
    }

    func send(_ frame: Frame) { sendFrame(.text, frame.json.serialized()) }

    /// Next data or close message from the client (pongs included); nil when the client went away.
    func next() -> WebSocketMessage? {
        while true {
            guard let message = try? parser.next() else {
                if case .failure = Result(catching: { () throws(WebSocketProtocolError) in try parser.next() }) { return nil }
                guard let bytes = read() else { return nil }
                parser.feed(bytes)
                continue
            }
            return message
        }
    }

    func nextRequest() -> (id: String, method: String, params: JSONValue?)? {
        while let message = next() {
            guard case .text(let bytes) = message else { continue }
            if case .request(let id, let method, let params)? = try? Frame(json: JSONValue.parse(bytes)) {
                return (id, method, params)
            }
        }
        return nil
    }

    /// Upgrade and challenge; returns the connect request.
    func upgrade() -> (id: String, method: String, params: JSONValue?)? {
        guard let head = readHead(), case .accept(let response) = ServerHandshake.evaluate(head) else { return nil }
        write(response)
        send(.event(name: "connect.challenge", payload: ["nonce": "n-1", "ts": 1], seq: nil, stateVersion: nil))
        return nextRequest()
    }

    func helloOK(id: String, tickIntervalMs: Int64 = 30_000) {
        send(.response(id: id, ok: true, payload: ["type": "hello-ok", "protocol": 4, "policy": ["tickIntervalMs": .int(tickIntervalMs)]],
                       error: nil))
    }
}

/// A loopback listener whose single connection is handled by `script` on a thread.
final class FakeGateway: @unchecked Sendable {
    let port: Int
    var url: String { "ws://127.0.0.1:\(port)" }
    private let listener: Int32
    private let done = DispatchSemaphore(value: 0)

    init(_ script: @escaping @Sendable (ServerSide) -> Void) {
        let (fd, port) = boundLoopbackSocket()
        listen(fd, 4)
        listener = fd
        self.port = port
        let done = self.done
        Thread.detachNewThread {
            let client = accept(fd, nil, nil)
            if client >= 0 { script(ServerSide(fd: client)) }
            done.signal()
        }
    }

    /// Waits for the script to finish (it ends when the client goes away).
    func finish() {
        _ = done.wait(timeout: .now() + 5)
        Glibc.close(listener)
    }
}

/// A TCP socket bound to an ephemeral loopback port, not yet listening.
private func boundLoopbackSocket() -> (fd: Int32, port: Int) {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    var addr = sockaddr_in()
    addr.sin_family = sa_family_t(AF_INET)
    addr.sin_addr.s_addr = inet_addr("127.0.0.1")
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    _ = withUnsafeMutablePointer(to: &addr) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
    }
    return (fd, Int(UInt16(bigEndian: addr.sin_port)))
}

private let identity = ClientIdentity(version: "1.0.0-test")

private func expectError(_ body: () throws(GatewayClientError) -> Void, sourceLocation: SourceLocation = #_sourceLocation)
    -> GatewayClientError?
{
    do {
        try body()
        Issue.record("expected an error", sourceLocation: sourceLocation)
        return nil
    } catch {
        #expect(error.description.contains("openclaw gateway status") || { if case .rpc = error { true } else { false } }(),
                sourceLocation: sourceLocation)
        return error
    }
}

@Suite(.serialized) struct GatewayConnectionTests {
    @Test func handshakeCallsStreamsAndEvents() throws {
        let connectParams = LockedBox<JSONValue?>(nil)
        let gateway = FakeGateway { server in
            guard let connect = server.upgrade() else { return }
            connectParams.value = connect.params
            server.helloOK(id: connect.id)
            while let req = server.nextRequest() {
                switch req.method {
                case "echo":
                    server.send(.event(name: "tick", payload: ["ts": 5], seq: 1, stateVersion: nil))
                    server.send(.response(id: req.id, ok: true, payload: req.params, error: nil))
                case "agent":
                    server.send(.response(id: req.id, ok: true, payload: ["status": "accepted", "runId": "r1"], error: nil))
                    server.send(.event(name: "agent", payload: ["runId": "r1", "stream": "assistant"], seq: 2, stateVersion: nil))
                    server.send(.response(id: "other", ok: true, payload: nil, error: nil))
                    server.send(.response(id: req.id, ok: true, payload: ["status": "ok", "runId": "r1"], error: nil))
                case "pingme":
                    server.sendFrame(.ping, [1, 2, 3])
                    guard server.next() == .pong([1, 2, 3]) else { return }
                    server.send(.response(id: req.id, ok: true, payload: "ponged", error: nil))
                case "fail":
                    server.send(.response(id: req.id, ok: false, payload: nil,
                                          error: RPCError(.invalidRequest, "unknown method: fail")))
                default:
                    return
                }
            }
        }
        defer { gateway.finish() }

        let connection = try GatewayConnection.connect(url: gateway.url, token: "secret", password: nil, identity: identity)
        #expect(connection.hello["type"] == "hello-ok")
        #expect(connection.roundTripMs > 0 && connection.roundTripMs < 5000)
        let params = try #require(connectParams.value)
        #expect(params["minProtocol"] == 4 && params["maxProtocol"] == 4)
        #expect(params["client"]?["id"] == "openclaw-cli" && params["client"]?["mode"] == "cli")
        #expect(params["auth"] == ["token": "secret"])
        #expect(params["role"] == "operator")

        #expect(try connection.call("echo", params: ["x": 1]) == ["x": 1])
        let tick = try #require(try connection.nextEvent(timeoutMs: 10))
        #expect(tick.name == "tick")

        var events: [String] = []
        var responses = 0
        let final = try connection.stream("agent", params: ["message": "hi"], timeoutMs: 2000,
                                          onEvent: { name, _ in events.append(name) },
                                          onResponse: { payload in responses += 1; return payload["status"] != "accepted" })
        #expect(final["status"] == "ok")
        #expect(events == ["agent"] && responses == 2)

        #expect(try connection.call("pingme") == "ponged")
        guard case .rpc(let error) = expectError({ () throws(GatewayClientError) in _ = try connection.call("fail") }) else {
            Issue.record("expected .rpc"); return
        }
        #expect(error.message == "unknown method: fail")
        #expect(try connection.nextEvent(timeoutMs: 20) == nil)
        connection.close()
    }

    @Test func refusedLoopbackFailsFast() throws {
        // A bound socket that never listens: connecting to its port is refused.
        let (fd, port) = boundLoopbackSocket()
        defer { Glibc.close(fd) }
        let start = monotonicMs()
        let error = expectError { () throws(GatewayClientError) in
            _ = try GatewayConnection.connect(url: "ws://127.0.0.1:\(port)", token: nil, password: nil, identity: identity)
        }
        #expect(monotonicMs() - start < 500)
        guard case .unreachable(let url, _)? = error else { Issue.record("\(String(describing: error))"); return }
        #expect(url == "ws://127.0.0.1:\(port)")
        #expect(error!.description.contains("ws://127.0.0.1:\(port)"))
    }

    @Test func authRejectionReportsCloseCode() {
        let gateway = FakeGateway { server in
            guard let connect = server.upgrade() else { return }
            server.send(.response(id: connect.id, ok: false, payload: nil,
                                  error: RPCError(.forbidden, "token mismatch", details: ["code": "AUTH_TOKEN_MISMATCH"])))
            server.sendFrame(.close, FrameEncoder.closePayload(code: .policyViolation, reason: "auth"))
            _ = server.next()
        }
        defer { gateway.finish() }
        let error = expectError { () throws(GatewayClientError) in
            _ = try GatewayConnection.connect(url: gateway.url, token: "wrong", password: nil, identity: identity)
        }
        guard case .handshakeRejected(_, let rpc, let code)? = error else { Issue.record("\(String(describing: error))"); return }
        #expect(rpc.details?["code"] == "AUTH_TOKEN_MISMATCH")
        #expect(code == 1008)
        #expect(error!.description.contains("token"))
    }

    @Test func silentGatewayTimesOut() {
        let gateway = FakeGateway { server in
            guard let head = server.readHead(), case .accept(let response) = ServerHandshake.evaluate(head) else { return }
            server.write(response)
            _ = server.next()
        }
        defer { gateway.finish() }
        let start = monotonicMs()
        let error = expectError { () throws(GatewayClientError) in
            _ = try GatewayConnection.connect(url: gateway.url, token: nil, password: nil, identity: identity, connectTimeoutMs: 200)
        }
        #expect(monotonicMs() - start < 1000)
        guard case .timeout(_, let what)? = error else { Issue.record("\(String(describing: error))"); return }
        #expect(what == "the connect.challenge event")
    }

    @Test func maskedServerFramesAreRefused() {
        let gateway = FakeGateway { server in
            guard let head = server.readHead(), case .accept(let response) = ServerHandshake.evaluate(head) else { return }
            server.write(response)
            server.sendFrame(.text, Array("{}".utf8), mask: 0x0102_0304)
            _ = server.next()
        }
        defer { gateway.finish() }
        let error = expectError { () throws(GatewayClientError) in
            _ = try GatewayConnection.connect(url: gateway.url, token: nil, password: nil, identity: identity)
        }
        guard case .protocolViolation? = error else { Issue.record("\(String(describing: error))"); return }
    }

    @Test func plainHTTPServerIsNotAGateway() {
        let gateway = FakeGateway { server in
            _ = server.readHead()
            server.write(HTTPResponse.make(status: 404, reason: "Not Found"))
        }
        defer { gateway.finish() }
        let error = expectError { () throws(GatewayClientError) in
            _ = try GatewayConnection.connect(url: gateway.url, token: nil, password: nil, identity: identity)
        }
        guard case .protocolViolation(_, let reason)? = error else { Issue.record("\(String(describing: error))"); return }
        #expect(reason.contains("404"))
    }

    @Test func serverCloseAndSilenceEndTheConnection() throws {
        let gateway = FakeGateway { server in
            guard let connect = server.upgrade() else { return }
            server.helloOK(id: connect.id)
            guard let req = server.nextRequest() else { return }
            server.send(.event(name: "shutdown", payload: ["reason": "restart"], seq: 1, stateVersion: nil))
            server.sendFrame(.close, FrameEncoder.closePayload(code: .serviceRestart, reason: "restarting"))
            _ = req
            _ = server.next()
        }
        defer { gateway.finish() }
        let connection = try GatewayConnection.connect(url: gateway.url, token: nil, password: nil, identity: identity)
        let error = expectError { () throws(GatewayClientError) in _ = try connection.call("status") }
        guard case .closed(_, let code, let reason)? = error else { Issue.record("\(String(describing: error))"); return }
        #expect(code == 1012 && reason == "restarting")
        // Once closed, every later call reports the same end.
        guard case .closed? = expectError({ () throws(GatewayClientError) in _ = try connection.call("status") }) else {
            Issue.record(); return
        }
        #expect(try connection.nextEvent(timeoutMs: 0)?.name == "shutdown")
    }

    @Test func missedTicksMeanADeadLink() throws {
        let gateway = FakeGateway { server in
            guard let connect = server.upgrade() else { return }
            server.helloOK(id: connect.id, tickIntervalMs: 50)
            _ = server.next()  // stay silent until the client gives up
        }
        defer { gateway.finish() }
        let connection = try GatewayConnection.connect(url: gateway.url, token: nil, password: nil, identity: identity)
        let error = expectError { () throws(GatewayClientError) in _ = try connection.nextEvent(timeoutMs: 2000) }
        guard case .closed(_, 4000?, _)? = error else { Issue.record("\(String(describing: error))"); return }
    }

    @Test(arguments: [
        ("ws://127.0.0.1:18789", "127.0.0.1", 18789, "/"), ("ws://localhost", "localhost", 18789, "/"),
        ("ws://[::1]:9/gw?x=1", "::1", 9, "/gw?x=1"), ("ws://h:1?q", "h", 1, "/?q"),
    ])
    func urls(url: String, host: String, port: Int, path: String) throws {
        let endpoint = try Endpoint(url)
        #expect(endpoint.host == host && endpoint.port == port && endpoint.path == path)
    }

    @Test(arguments: ["http://x", "wss://x", "ws://", "ws://h:0", "ws://h:x", "ws://[::1"])
    func badURLs(url: String) {
        guard case .unreachable? = expectError({ () throws(GatewayClientError) in _ = try Endpoint(url) }) else {
            Issue.record(); return
        }
    }
}

final class LockedBox<T>: @unchecked Sendable {
    private let lock = NSLock()
    private var _value: T
    init(_ value: T) { _value = value }
    var value: T {
        get { lock.withLock { _value } }
        set { lock.withLock { _value = newValue } }
    }
}
