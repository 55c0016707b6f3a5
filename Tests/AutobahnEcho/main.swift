// A WebSocket echo server built only from the gateway's own codec
// (WebSocketCodec) and reactor (NetIO), for the Autobahn TestSuite's
// fuzzingclient (Tests/autobahn). Test-only: not part of the `openclaw` product.
//
// Usage: AutobahnEcho PORT   (listens on 127.0.0.1:PORT, prints "listening" when ready)

import Glibc
import NetIO
import WebSocketCodec

/// One client: the HTTP upgrade, then every text and binary message echoed,
/// pings answered, and a close (or a protocol error) answered with a close.
final class EchoConnection {
    private let channel: StreamChannel
    private var head = HTTPHeadParser()
    private var parser: WebSocketParser?
    private var closing = false

    init(channel: StreamChannel) {
        self.channel = channel
        channel.onRead = { [unowned self] bytes in self.received(bytes) }
    }

    private func received(_ bytes: UnsafeRawBufferPointer) {
        guard !closing else { return }
        if parser == nil {
            do {
                guard let (request, leftover) = try head.feed(bytes) else { return }
                switch ServerHandshake.evaluate(request) {
                case .accept(let response):
                    channel.write(response)
                    // Autobahn's largest messages are 16 MiB (case 9.x).
                    parser = WebSocketParser(role: .server, maxMessageSize: 32 << 20)
                    if !leftover.isEmpty { leftover.withUnsafeBytes { received($0) } }
                case .reject(_, _, let response):
                    channel.write(response)
                    channel.closeAfterFlush()
                case .notUpgrade:
                    channel.write(HTTPResponse.make(status: 404, reason: "Not Found"))
                    channel.closeAfterFlush()
                }
            } catch {
                channel.write(HTTPResponse.make(status: error.status, reason: error.reason))
                channel.closeAfterFlush()
            }
            return
        }
        parser!.feed(bytes)
        do {
            while !closing, let message = try parser!.next() {
                switch message {
                case .text(let payload): send(.text, payload)
                case .binary(let payload): send(.binary, payload)
                case .ping(let payload): send(.pong, payload)
                case .pong: break
                case .close(let code, _):
                    send(.close, code.map { FrameEncoder.closePayload(code: WebSocketCloseCode($0), reason: "") } ?? [])
                    finish()
                }
            }
        } catch {
            send(.close, FrameEncoder.closePayload(code: error.closeCode, reason: error.reason))
            finish()
        }
    }

    private func send(_ opcode: Opcode, _ payload: [UInt8]) {
        _ = FrameHeader(opcode, payloadCount: payload.count).withSpan { channel.queue(head: $0, body: payload.span) }
    }

    private func finish() {
        closing = true
        channel.pauseReading()
        channel.closeAfterFlush()
    }
}

/// Unbuffered: the test waits for the "listening" line on a pipe.
func say(_ fd: Int32, _ text: String) {
    let bytes = Array((text + "\n").utf8)
    _ = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
}

guard CommandLine.arguments.count == 2, let port = Int(CommandLine.arguments[1]) else {
    say(2, "usage: AutobahnEcho PORT")
    exit(2)
}
signal(SIGPIPE, SIG_IGN)
do {
    let loop = try EventLoop()
    let listener = try Sockets.listenTCP(host: "127.0.0.1", port: port)
    var connections: [Int32: EchoConnection] = [:]
    try loop.register(fd: listener) { _ in
        while case .accepted(let fd) = Sockets.accept(listener) {
            Sockets.setNoDelay(fd)
            guard let channel = try? StreamChannel(loop: loop, fd: fd, maxBufferedBytes: 64 << 20) else {
                close(fd)
                continue
            }
            channel.onClose = { _ in connections[fd] = nil }
            connections[fd] = EchoConnection(channel: channel)
        }
    }
    say(1, "listening on 127.0.0.1:\(port)")
    loop.run()
} catch {
    say(2, "AutobahnEcho: \(error)")
    exit(1)
}
