import Glibc
import NetIO
import Testing

@Suite struct EventLoopTests {
    @Test func timersFireInDeadlineOrderAndCancelledOnesDoNot() throws {
        let loop = try EventLoop()
        var fired: [String] = []
        loop.schedule(afterMs: 30) { fired.append("b") }
        loop.schedule(afterMs: 10) { fired.append("a") }
        let cancelled = loop.schedule(afterMs: 20) { fired.append("never") }
        loop.cancel(cancelled)
        var ticks = 0
        let repeating = loop.scheduleRepeating(everyMs: 5) { ticks += 1 }
        loop.schedule(afterMs: 50) {
            loop.cancel(repeating)
            loop.stop()
        }
        loop.run()
        #expect(fired == ["a", "b"])
        #expect(ticks >= 3)
    }

    @Test func streamChannelEchoesAndBoundsOutput() throws {
        let loop = try EventLoop()
        var fds: [Int32] = [0, 0]
        #expect(socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0, &fds) == 0)
        let channel = try StreamChannel(loop: loop, fd: fds[0], maxBufferedBytes: 8)
        var received: [UInt8] = []
        channel.onRead = { bytes in
            received.append(contentsOf: bytes)
            channel.write(Array(bytes))
        }
        var closed = false
        channel.onClose = { _ in
            closed = true
            loop.stop()
        }
        #expect(channel.write(Array(repeating: 1, count: 9)) == false)  // over the bound: refused, nothing queued
        _ = "ping".withCString { write(fds[1], $0, 4) }
        loop.schedule(afterMs: 50) { close(fds[1]) }
        loop.schedule(afterMs: 2000) { loop.stop() }
        loop.run()
        #expect(received == Array("ping".utf8))
        #expect(closed)
    }
}
