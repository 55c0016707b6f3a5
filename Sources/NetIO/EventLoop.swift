import CLinux
import Glibc

/// Readiness reported to an fd's handler.
public struct IOReadiness: OptionSet, Sendable {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }
    public static let readable = IOReadiness(rawValue: 1)
    public static let writable = IOReadiness(rawValue: 2)
    /// Hang-up or error: the handler should read (to see EOF/errno) and close.
    public static let hangup = IOReadiness(rawValue: 4)
}

/// What the loop calls when a registered descriptor is ready. `StreamChannel` is one (its
/// sockets are nearly every event: calling an object directly skips a closure, its thunks and
/// an `unowned` capture per event); other registrations pass a closure, wrapped in one.
protocol ReadinessHandler: AnyObject {
    func handle(_ readiness: IOReadiness)
}

private final class ClosureHandler: ReadinessHandler {
    let body: (IOReadiness) -> Void
    init(_ body: @escaping (IOReadiness) -> Void) { self.body = body }
    func handle(_ readiness: IOReadiness) { body(readiness) }
}

public struct TimerID: Hashable, Sendable {
    fileprivate let raw: UInt64
}

/// A single-threaded epoll reactor.
///
/// Everything the gateway does is an event on this loop: sockets, timers,
/// signals (signalfd), child-process pipes and the watchdog ping. One thread
/// means no locks on the hot path, and a loop that hangs stops pinging the
/// watchdog, which is exactly what systemd needs to see. Not Sendable: create
/// and use it on one thread.
public final class EventLoop {
    private let epfd: Int32
    /// By descriptor; held until `unregister` (a channel lives while it is registered).
    private var handlers: [(any ReadinessHandler)?] = []
    private var running = false
    private var timers: [UInt64: Timer] = [:]
    private var timerHeap = TimerHeap()
    private var nextTimerID: UInt64 = 1
    private var turnEnd: [() -> Void] = []
    /// Loop-thread only, touched per frame: no runtime exclusivity check (see StreamChannel).
    @exclusivity(unchecked) var dirtyChannels: [StreamChannel] = []
    /// The channels `endTurn` is flushing; swapped with `dirtyChannels`, so neither array is
    /// reallocated per turn. Only `endTurn` touches it, and no access stays open across a flush.
    @exclusivity(unchecked) private var flushing: [StreamChannel] = []
    /// Unsent bytes queued in all of this loop's channels.
    @exclusivity(unchecked) public internal(set) var bufferedOutputBytes = 0
    /// Above this total, channels with more than `budgetExemptBacklog` unsent bytes are
    /// refused further output: each channel's own bound times many peers is still too much.
    public var outputBudget = Int.max
    static let budgetExemptBacklog = 64 * 1024
    /// Scratch buffer every channel reads into: per-connection memory stays small.
    let readBuffer: UnsafeMutableRawBufferPointer

    private struct Timer {
        var deadline: Int64
        let intervalMs: Int64?
        let handler: () -> Void
    }

    public init() throws(SystemCallError) {
        let fd = epoll_create1(Int32(EPOLL_CLOEXEC))
        guard fd >= 0 else { throw SystemCallError("epoll_create1") }
        epfd = fd
        readBuffer = .allocate(byteCount: 256 * 1024, alignment: 16)
    }

    deinit {
        close(epfd)
        readBuffer.deallocate()
    }

    /// Milliseconds on CLOCK_MONOTONIC.
    public static func nowMs() -> Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Int64(ts.tv_sec) * 1000 + Int64(ts.tv_nsec) / 1_000_000
    }

    /// Nanoseconds on CLOCK_MONOTONIC, for latencies below a millisecond.
    public static func nowNs() -> Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Int64(ts.tv_sec) * 1_000_000_000 + Int64(ts.tv_nsec)
    }

    /// Microseconds on CLOCK_MONOTONIC, for durations shorter than a millisecond.
    public static func nowUs() -> Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Int64(ts.tv_sec) * 1_000_000 + Int64(ts.tv_nsec) / 1000
    }

    /// Milliseconds since the Unix epoch, for protocol timestamps.
    public static func wallClockMs() -> Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Int64(ts.tv_sec) * 1000 + Int64(ts.tv_nsec) / 1_000_000
    }

    // MARK: file descriptors

    public func register(fd: Int32, readable: Bool = true, writable: Bool = false,
                         _ handler: @escaping (IOReadiness) -> Void) throws(SystemCallError) {
        try register(fd: fd, readable: readable, writable: writable, handler: ClosureHandler(handler))
    }

    func register(fd: Int32, readable: Bool, writable: Bool, handler: any ReadinessHandler) throws(SystemCallError) {
        var ev = epoll_event()
        ev.events = mask(readable: readable, writable: writable)
        ev.data.fd = fd
        guard epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) == 0 else { throw SystemCallError("epoll_ctl(ADD)") }
        let index = Int(fd)
        if index >= handlers.count { handlers.append(contentsOf: repeatElement(nil, count: index + 64 - handlers.count)) }
        handlers[index] = handler
    }

    public func modify(fd: Int32, readable: Bool, writable: Bool) {
        var ev = epoll_event()
        ev.events = mask(readable: readable, writable: writable)
        ev.data.fd = fd
        _ = epoll_ctl(epfd, EPOLL_CTL_MOD, fd, &ev)
    }

    /// Stops watching `fd` (the caller closes it).
    public func unregister(fd: Int32) {
        _ = epoll_ctl(epfd, EPOLL_CTL_DEL, fd, nil)
        if Int(fd) < handlers.count { handlers[Int(fd)] = nil }
    }

    private func mask(readable: Bool, writable: Bool) -> UInt32 {
        var m: UInt32 = 0
        if readable { m |= EPOLLIN.rawValue | EPOLLRDHUP.rawValue }
        if writable { m |= EPOLLOUT.rawValue }
        return m
    }

    // MARK: timers

    @discardableResult
    public func schedule(afterMs delay: Int64, _ handler: @escaping () -> Void) -> TimerID {
        addTimer(deadline: Self.deadline(after: max(0, delay)), interval: nil, handler)
    }

    @discardableResult
    public func scheduleRepeating(everyMs interval: Int64, _ handler: @escaping () -> Void) -> TimerID {
        addTimer(deadline: Self.deadline(after: max(1, interval)), interval: max(1, interval), handler)
    }

    /// Saturates instead of trapping: a delay may come from a client or a config value.
    private static func deadline(after delay: Int64) -> Int64 {
        let (sum, overflow) = nowMs().addingReportingOverflow(delay)
        return overflow ? .max : sum
    }

    public func cancel(_ id: TimerID) {
        timers[id.raw] = nil
    }

    private func addTimer(deadline: Int64, interval: Int64?, _ handler: @escaping () -> Void) -> TimerID {
        let id = nextTimerID
        nextTimerID += 1
        timers[id] = Timer(deadline: deadline, intervalMs: interval, handler: handler)
        timerHeap.push(deadline: deadline, id: id)
        return TimerID(raw: id)
    }

    private func runDueTimers() {
        let now = Self.nowMs()
        while let top = timerHeap.peek(), top.deadline <= now {
            timerHeap.pop()
            guard var timer = timers[top.id], timer.deadline == top.deadline else { continue }
            if let interval = timer.intervalMs {
                timer.deadline = max(now, timer.deadline + interval)
                timers[top.id] = timer
                timerHeap.push(deadline: timer.deadline, id: top.id)
            } else {
                timers[top.id] = nil
            }
            timer.handler()
        }
    }

    private func epollTimeout() -> Int32 {
        if !turnEnd.isEmpty || !dirtyChannels.isEmpty { return 0 }
        while let top = timerHeap.peek() {
            guard let timer = timers[top.id], timer.deadline == top.deadline else {
                timerHeap.pop()
                continue
            }
            return Int32(clamping: max(0, top.deadline - Self.nowMs()))
        }
        return -1
    }

    // MARK: signals

    /// Blocks `signals` for the process and delivers them through a signalfd on this loop.
    /// Call before any other thread starts so no thread receives them asynchronously.
    public func onSignals(_ signals: [Int32], _ handler: @escaping (Int32) -> Void) throws(SystemCallError) {
        var set = sigset_t()
        sigemptyset(&set)
        for s in signals { sigaddset(&set, s) }
        guard pthread_sigmask(SIG_BLOCK, &set, nil) == 0 else { throw SystemCallError("pthread_sigmask") }
        let sfd = signalfd(-1, &set, Int32(SFD_NONBLOCK | SFD_CLOEXEC))
        guard sfd >= 0 else { throw SystemCallError("signalfd") }
        try register(fd: sfd) { _ in
            var info = signalfd_siginfo()
            while withUnsafeMutableBytes(of: &info, { read(sfd, $0.baseAddress, $0.count) }) == MemoryLayout<signalfd_siginfo>.size {
                handler(Int32(info.ssi_signo))
            }
        }
    }

    // MARK: running

    /// Runs `handler` once at the end of the current loop turn (after all ready fds were served).
    public func afterTurn(_ handler: @escaping () -> Void) {
        turnEnd.append(handler)
    }

    public func run() {
        running = true
        let capacity = 256
        let events = UnsafeMutablePointer<epoll_event>.allocate(capacity: capacity)
        defer { events.deallocate() }
        while running {
            let n = epoll_wait(epfd, events, Int32(capacity), epollTimeout())
            if n < 0 && errno != EINTR { break }
            if n > 0 {
                for i in 0..<Int(n) {
                    let ev = events[i]
                    let fd = Int(ev.data.fd)
                    guard fd < handlers.count, let handler = handlers[fd] else { continue }
                    var r: IOReadiness = []
                    if ev.events & (EPOLLIN.rawValue | EPOLLRDHUP.rawValue) != 0 { r.insert(.readable) }
                    if ev.events & EPOLLOUT.rawValue != 0 { r.insert(.writable) }
                    if ev.events & (EPOLLHUP.rawValue | EPOLLERR.rawValue) != 0 { r.insert(.hangup) }
                    handler.handle(r)
                }
            }
            runDueTimers()
            endTurn()
        }
    }

    /// Runs the `afterTurn` work, then flushes every channel written to during the turn: all
    /// answers to one batch of ready peers leave together, after the batch. (Flushing each peer
    /// right after its read, as a plain C server does, was measured: at 64 closed-loop
    /// connections the client then woke up for almost every answer (its `epoll_wait`s per
    /// request 0.04 -> 0.27) and the gateway served fewer requests, not more.)
    private func endTurn() {
        while !turnEnd.isEmpty || !dirtyChannels.isEmpty {
            let work = turnEnd
            turnEnd.removeAll(keepingCapacity: true)
            for w in work { w() }
            swap(&flushing, &dirtyChannels)
            for i in flushing.indices { flushing[i].flush() }
            flushing.removeAll(keepingCapacity: true)
        }
    }

    /// Returns from `run()` after the current turn.
    public func stop() {
        running = false
    }
}

/// Binary min-heap of (deadline, id); cancelled timers are skipped lazily.
private struct TimerHeap {
    private var items: [(deadline: Int64, id: UInt64)] = []

    func peek() -> (deadline: Int64, id: UInt64)? { items.first }

    mutating func push(deadline: Int64, id: UInt64) {
        items.append((deadline, id))
        var i = items.count - 1
        while i > 0 {
            let parent = (i - 1) / 2
            guard items[i].deadline < items[parent].deadline else { break }
            items.swapAt(i, parent)
            i = parent
        }
    }

    mutating func pop() {
        guard !items.isEmpty else { return }
        items.swapAt(0, items.count - 1)
        items.removeLast()
        var i = 0
        while true {
            let l = 2 * i + 1, r = l + 1
            var m = i
            if l < items.count && items[l].deadline < items[m].deadline { m = l }
            if r < items.count && items[r].deadline < items[m].deadline { m = r }
            if m == i { break }
            items.swapAt(i, m)
            i = m
        }
    }
}
