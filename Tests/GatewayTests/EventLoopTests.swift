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

    @Test func hugeDelaysSaturateInsteadOfTrapping() throws {
        let loop = try EventLoop()
        var fired = false
        loop.schedule(afterMs: .max) { fired = true }
        loop.scheduleRepeating(everyMs: .max) { fired = true }
        loop.schedule(afterMs: 5) { loop.stop() }
        loop.run()
        #expect(!fired)
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

@Suite struct StreamChannelGatheredWriteTests {
    /// Reads everything `fd` holds now (non-blocking).
    private func drain(_ fd: Int32) -> [UInt8] {
        var out: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT)) }
            guard n > 0 else { return out }
            out.append(contentsOf: buffer[0..<n])
        }
    }

    /// Nothing queued: the parts reach the peer at once, in order, and nothing is queued.
    /// Output already queued: the parts go behind it, so the order on the wire holds.
    @Test func partsKeepTheirOrderWithAndWithoutAQueue() throws {
        let loop = try EventLoop()
        var fds: [Int32] = [0, 0]
        #expect(socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0, &fds) == 0)
        let channel = try StreamChannel(loop: loop, fd: fds[0])
        #expect(channel.write(head: [1], body: [2, 3], tail: [4]))
        #expect(channel.bufferedBytes == 0)
        #expect(drain(fds[1]) == [1, 2, 3, 4])

        #expect(channel.write([5]))
        #expect(channel.write(head: [6], body: [7], tail: []))
        #expect(channel.bufferedBytes == 3)
        loop.schedule(afterMs: 0) { loop.stop() }
        loop.run()  // the turn's flush
        #expect(drain(fds[1]) == [5, 6, 7])
        #expect(channel.write(head: [], body: Array(repeating: 9, count: 9)) && channel.bufferedBytes == 0)
        #expect(drain(fds[1]).count == 9)
        channel.close()
        close(fds[1])
    }

    /// A peer that reads nothing: the kernel takes what fits, the rest is queued (counted
    /// against the bound) and leaves in order once the peer reads.
    @Test func whatTheKernelDoesNotTakeIsQueued() throws {
        let loop = try EventLoop()
        var fds: [Int32] = [0, 0]
        #expect(socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0, &fds) == 0)
        let channel = try StreamChannel(loop: loop, fd: fds[0], maxBufferedBytes: 16 << 20)
        let body = (0..<(4 << 20)).map { UInt8(truncatingIfNeeded: $0 % 251) }
        #expect(channel.write(head: [0xAA], body: body, tail: [0xBB]))
        #expect(channel.bufferedBytes > 0 && channel.bufferedBytes < body.count + 2)
        var received: [UInt8] = []
        try loop.register(fd: fds[1]) { _ in
            received += drain(fds[1])
            if received.count >= body.count + 2 { loop.stop() }
        }
        loop.schedule(afterMs: 10_000) { loop.stop() }
        loop.run()
        #expect(received == [0xAA] + body + [0xBB])
        #expect(channel.bufferedBytes == 0)
        channel.close()
        close(fds[1])
    }
}

@Suite struct StreamChannelMemoryTests {
    /// A reader that keeps up but never lets the queue run dry: what the channel holds
    /// must stay near its bound on unsent bytes, not grow with everything ever sent.
    @Test func steadyReaderDoesNotPinTheSentPrefix() throws {
        let loop = try EventLoop()
        var fds: [Int32] = [0, 0]
        #expect(socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0, &fds) == 0)
        let cap = 1 << 20
        let channel = try StreamChannel(loop: loop, fd: fds[0], maxBufferedBytes: cap)
        let chunk = [UInt8](repeating: 7, count: 64 * 1024)
        #expect(channel.write(chunk))
        #expect(channel.write(chunk))
        var received = 0
        var peak = 0
        var scratch = [UInt8](repeating: 0, count: 64 * 1024)
        try loop.register(fd: fds[1]) { _ in
            let n = scratch.withUnsafeMutableBytes { read(fds[1], $0.baseAddress, $0.count) }
            if n > 0 { received += n }
            while channel.bufferedBytes < cap / 2 { channel.write(chunk) }
            peak = max(peak, channel.retainedOutputBytes)
            if received >= 32 << 20 { loop.stop() }
        }
        loop.schedule(afterMs: 20_000) { loop.stop() }
        loop.run()
        #expect(received >= 32 << 20)
        #expect(peak <= 2 * cap + chunk.count)
        channel.close()
        close(fds[1])
    }
}

@Suite struct HostResolverTests {
    /// A lookup that takes 400 ms (DNS timing out) must not stop the loop: timers keep firing.
    @Test func slowLookupDoesNotBlockTheLoop() throws {
        let loop = try EventLoop()
        var ticks = 0
        var answer: Result<String, ResolveError>?
        let timer = loop.scheduleRepeating(everyMs: 10) { ticks += 1 }
        HostResolver.resolve("irc.example.org", on: loop, lookup: { _ in
            usleep(400_000)
            return .success("192.0.2.7")
        }) { result in
            answer = result
            loop.cancel(timer)
            loop.stop()
        }
        loop.schedule(afterMs: 5_000) { loop.stop() }
        loop.run()
        #expect(try answer?.get() == "192.0.2.7")
        #expect(ticks >= 20)
    }

    @Test func realLookupAndFailureNameTheHost() throws {
        let loop = try EventLoop()
        var answers: [Result<String, ResolveError>] = []
        for host in ["127.0.0.1", "no-such-host.invalid"] {
            HostResolver.resolve(host, on: loop) { result in
                answers.append(result)
                if answers.count == 2 { loop.stop() }
            }
        }
        loop.schedule(afterMs: 10_000) { loop.stop() }
        loop.run()
        #expect(answers.count == 2)
        #expect(answers.contains { (try? $0.get()) == "127.0.0.1" })
        #expect(answers.contains { if case .failure(let e) = $0 { e.description.hasPrefix("cannot resolve no-such-host.invalid") } else { false } })
    }
}
