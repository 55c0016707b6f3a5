import Glibc

/// A non-blocking byte stream (TCP socket or pipe) on the loop, with bounded output.
///
/// Writes are queued and flushed once at the end of the loop turn, so several
/// frames for one peer cost one syscall. Output is bounded: `write` reports when
/// the queue passes `maxBufferedBytes`, and the owner closes the slow consumer
/// instead of letting memory grow.
public final class StreamChannel: ReadinessHandler {
    public let fd: Int32
    /// The loop outlives its channels (it owns their registrations), so it is held unretained
    /// and borrowed for each use (`withLoop`) without a retain/release pair: an
    /// `unowned(unsafe)` reference still paid one per access, on every read, write and flush.
    private let loopRef: Unmanaged<EventLoop>
    /// Called with bytes read; the buffer is only valid during the call. Read once per read
    /// (copied out, then called: no access to it is open while it runs), on the loop's thread:
    /// no runtime exclusivity check (see below).
    @exclusivity(unchecked) public var onRead: ((UnsafeRawBufferPointer) -> Void)?
    /// Called once when the channel closes: 0 for EOF or a local close, else the errno.
    public var onClose: ((Int32) -> Void)?
    // The state touched by every frame skips the runtime exclusivity check (about one
    // in ten instructions of a `health` request under callgrind went to those checks):
    // it is used on the loop's thread only, and no access to it stays open across a
    // call that could come back here (`OutputQueue`'s methods call nothing outside it).
    // The rest keeps the check.
    @exclusivity(unchecked) public var maxBufferedBytes: Int
    @exclusivity(unchecked) public private(set) var isClosed = false

    @exclusivity(unchecked) private var output = OutputQueue()
    @exclusivity(unchecked) private var wantsWritable = false
    @exclusivity(unchecked) private var queuedForFlush = false
    private var closeWhenFlushed = false
    private var readingPaused = false

    public init(loop: EventLoop, fd: Int32, maxBufferedBytes: Int = 4 << 20) throws(SystemCallError) {
        self.fd = fd
        self.loopRef = .passUnretained(loop)
        self.maxBufferedBytes = maxBufferedBytes
        try Sockets.setNonBlocking(fd)
        try loop.register(fd: fd, readable: true, writable: false, handler: self)
    }

    /// Bytes queued and not yet accepted by the kernel.
    public var bufferedBytes: Int { output.count }

    /// Queues bytes. Returns false (and queues nothing) when that would pass `maxBufferedBytes`
    /// or, for a channel already holding a backlog, the loop's `outputBudget`.
    @discardableResult
    public func write(_ bytes: [UInt8]) -> Bool {
        guard !isClosed, admits(bytes.count) else { return false }
        output.append(bytes.span)
        queued(bytes.count)
        return true
    }

    /// Whether `count` more bytes would stay within `maxBufferedBytes` (an owner that would
    /// rather refuse a message than have the peer dropped asks first).
    public func fits(_ count: Int) -> Bool {
        bufferedBytes + count <= maxBufferedBytes
    }

    /// Queues `head`, `body` and `tail`, in that order, to leave with the next flush (so a
    /// turn's small frames for one peer leave in one syscall): one copy, into the queue.
    @discardableResult
    public func queue(head: Span<UInt8>, body: Span<UInt8>, tail: Span<UInt8> = Span()) -> Bool {
        send(head, body, tail, writingNow: false)
    }

    /// Queues `head`, `body` and `tail`, in that order, as `write` would, but when nothing is
    /// queued they go to the kernel at once in one `writev`, straight from the callers'
    /// buffers: a large frame (a broadcast event shared by every peer, a hello-ok) is not
    /// copied into the queue first. Only what the kernel does not take now is queued. A
    /// failing socket is left to the next flush to report and close, so this never calls
    /// `onClose` in the middle of the caller's loop over its peers.
    @discardableResult
    public func write(head: [UInt8], body: [UInt8], tail: [UInt8] = []) -> Bool {
        send(head.span, body.span, tail.span, writingNow: true)
    }

    /// `write(head:body:tail:)` for bytes borrowed where they were written.
    @discardableResult
    public func write(head: Span<UInt8>, body: Span<UInt8>, tail: Span<UInt8> = Span()) -> Bool {
        send(head, body, tail, writingNow: true)
    }

    private func send(_ head: Span<UInt8>, _ body: Span<UInt8>, _ tail: Span<UInt8>, writingNow: Bool) -> Bool {
        let count = head.count + body.count + tail.count
        guard !isClosed, admits(count) else { return false }
        var written = 0
        if writingNow && bufferedBytes == 0 && !wantsWritable {
            written = head.withUnsafeBytes { h in
                body.withUnsafeBytes { b in
                    tail.withUnsafeBytes { t in
                        withUnsafeTemporaryAllocation(of: iovec.self, capacity: 3) { iov in
                            iov[0] = iovec(iov_base: UnsafeMutableRawPointer(mutating: h.baseAddress), iov_len: h.count)
                            iov[1] = iovec(iov_base: UnsafeMutableRawPointer(mutating: b.baseAddress), iov_len: b.count)
                            iov[2] = iovec(iov_base: UnsafeMutableRawPointer(mutating: t.baseAddress), iov_len: t.count)
                            return max(0, writev(fd, iov.baseAddress, 3))
                        }
                    }
                }
            }
            guard written < count else { return true }
        }
        var skip = written
        func queueUnwritten(_ part: Span<UInt8>) {
            if skip >= part.count {
                skip -= part.count
            } else {
                part.withUnsafeBytes { output.append(UnsafeRawBufferPointer(rebasing: $0[skip...])) }
                skip = 0
            }
        }
        queueUnwritten(head)
        queueUnwritten(body)
        queueUnwritten(tail)
        queued(count - written)
        return true
    }

    /// Past the loop's budget only channels that keep up (little unsent) may queue more:
    /// the lagging ones are refused, so their owners drop them and memory comes back.
    private func admits(_ count: Int) -> Bool {
        let unsent = bufferedBytes
        if unsent + count > maxBufferedBytes { return false }
        if unsent <= EventLoop.budgetExemptBacklog { return true }
        return withLoop { $0.bufferedOutputBytes + count <= $0.outputBudget }
    }

    private func queued(_ count: Int) {
        withLoop { $0.bufferedOutputBytes += count }
        scheduleFlush()
    }

    private func scheduleFlush() {
        if !queuedForFlush && !wantsWritable {
            queuedForFlush = true
            withLoop { $0.dirtyChannels.append(self) }
        }
    }

    /// Stops reading (the peer's bytes stay in the kernel), e.g. while draining before close.
    public func pauseReading() {
        guard !readingPaused, !isClosed else { return }
        readingPaused = true
        withLoop { $0.modify(fd: fd, readable: false, writable: wantsWritable) }
    }

    /// Closes once everything queued has been written (or at once if nothing is queued).
    public func closeAfterFlush() {
        guard !isClosed else { return }
        closeWhenFlushed = true
        if bufferedBytes == 0 && !queuedForFlush { close(errno: 0) }
    }

    /// Closes now, dropping queued output.
    public func close() { close(errno: 0) }

    /// Stops watching the descriptor without closing it, and returns the bytes queued and not
    /// yet written: the caller passes both on (the gateway hands them to its next instance).
    /// For its owner the channel is closed from here on; `onClose` is not called.
    public func detach() -> [UInt8] {
        guard !isClosed else { return [] }
        isClosed = true
        withLoop { $0.unregister(fd: fd) }
        let unsent = output.unsent
        withLoop { $0.bufferedOutputBytes -= unsent.count }
        output = OutputQueue()
        onClose = nil
        onRead = nil
        return unsent
    }

    /// Queues, ahead of anything new, bytes a previous owner of this socket had not written:
    /// they were admitted there (and may end mid-frame), so no bound refuses them here.
    public func requeue(_ bytes: [UInt8]) {
        guard !isClosed, !bytes.isEmpty else { return }
        output.prepend(bytes)
        queued(bytes.count)
    }

    private func close(errno code: Int32) {
        guard !isClosed else { return }
        isClosed = true
        withLoop { $0.unregister(fd: fd) }
        Glibc.close(fd)
        withLoop { $0.bufferedOutputBytes -= bufferedBytes }
        output = OutputQueue()
        let callback = onClose
        onClose = nil
        onRead = nil
        callback?(code)
    }

    func handle(_ readiness: IOReadiness) {
        if readiness.contains(.writable) { flush() }
        if readiness.contains(.readable) || readiness.contains(.hangup), !readingPaused { readAvailable() }
        else if readiness.contains(.hangup) { close(errno: 0) }
    }

    private func readAvailable() {
        let buffer = withLoop { $0.readBuffer }
        // Bounded rounds so one busy peer cannot starve the others.
        for _ in 0..<4 {
            guard !isClosed else { return }
            let n = read(fd, buffer.baseAddress, buffer.count)
            if n > 0 {
                onRead?(UnsafeRawBufferPointer(rebasing: buffer[0..<n]))
                if n < buffer.count { return }
            } else if n == 0 {
                close(errno: 0)
                return
            } else {
                let e = errno
                if e == EAGAIN || e == EWOULDBLOCK || e == EINTR { return }
                close(errno: e)
                return
            }
        }
    }

    /// Bytes held for output, sent prefix included (what the queue costs in memory).
    public var retainedOutputBytes: Int { output.held }

    func flush() {
        queuedForFlush = false
        guard !isClosed else { return }
        while output.count > 0 {
            let n = output.write(to: fd)
            if n > 0 {
                withLoop { $0.bufferedOutputBytes -= n }
            } else if n < 0 && errno == EINTR {
                continue
            } else if n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) {
                // The bound is on unsent bytes: the sent prefix must not stay pinned either.
                output.dropSentPrefix()
                if !wantsWritable {
                    wantsWritable = true
                    withLoop { $0.modify(fd: fd, readable: !readingPaused, writable: true) }
                }
                return
            } else {
                close(errno: n < 0 ? errno : EPIPE)
                return
            }
        }
        // Everything written: release large buffers so idle connections stay small.
        output.removeAll(keepingUpTo: 4 * 1024)
        if wantsWritable {
            wantsWritable = false
            withLoop { $0.modify(fd: fd, readable: !readingPaused, writable: false) }
        }
        if closeWhenFlushed { close(errno: 0) }
    }

    @inline(__always)
    private func withLoop<R>(_ body: (EventLoop) -> R) -> R {
        loopRef._withUnsafeGuaranteedRef(body)
    }
}
