import Glibc
import SystemdKit
import Testing

// NOTIFY_SOCKET and WATCHDOG_* are process-wide and the gateway's own tests notify too, so every
// test that sets them runs in an exit-test child process of its own.

/// Stands in for the manager's notify socket: a bound AF_UNIX datagram socket.
private struct NotifyListener: ~Copyable {
    let fd: Int32
    let directory: String
    /// The NOTIFY_SOCKET value: a path, or `@name` for an abstract socket.
    let address: String

    init(abstract: Bool) {
        directory = DaemonTestSupport.makeTemporaryDirectory()
        address = abstract ? "@sdkit-notify-\(getpid())" : directory + "/notify"
        fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        var timeout = timeval(tv_sec: 5, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        let fd = fd
        let bound = DaemonTestSupport.withUnixAddress(address) { bind(fd, $0, $1) }
        precondition(bound == 0, "bind \(address): \(errno)")
    }

    func receive() -> String? {
        var buffer = [UInt8](repeating: 0, count: 4096)
        let count = recv(fd, &buffer, buffer.count, 0)
        return count < 0 ? nil : String(decoding: buffer[..<count], as: UTF8.self)
    }

    deinit {
        close(fd)
        DaemonTestSupport.removeTree(directory)
    }
}

private func expectLifecycleDatagrams(abstract: Bool) {
    let listener = NotifyListener(abstract: abstract)
    setenv("NOTIFY_SOCKET", listener.address, 1)

    ServiceNotifier.ready(status: "Listening on 127.0.0.1:18789")
    #expect(listener.receive() == "READY=1\nSTATUS=Listening on 127.0.0.1:18789")
    ServiceNotifier.status("3 clients")
    #expect(listener.receive() == "STATUS=3 clients")
    ServiceNotifier.stopping(status: "Draining 3 clients")
    #expect(listener.receive() == "STOPPING=1\nSTATUS=Draining 3 clients")
    ServiceNotifier.watchdogPing()
    #expect(listener.receive() == "WATCHDOG=1")
    // A newline would smuggle a second assignment into the datagram.
    ServiceNotifier.status("bad\nREADY=1")
    #expect(listener.receive() == "STATUS=bad READY=1")

    let before = DaemonTestSupport.monotonicMicroseconds()
    ServiceNotifier.reloading(status: "Reloading configuration")
    let after = DaemonTestSupport.monotonicMicroseconds()
    let prefix = "RELOADING=1\nSTATUS=Reloading configuration\nMONOTONIC_USEC="
    let reloading = listener.receive() ?? ""
    #expect(reloading.hasPrefix(prefix))
    let stamp = UInt64(reloading.dropFirst(prefix.count))
    #expect(stamp.map { (before...after).contains($0) } == true, "\(reloading) not in \(before)...\(after)")

    #expect(ServiceNotifier.notify("EXTEND_TIMEOUT_USEC=5000000"))
    #expect(listener.receive() == "EXTEND_TIMEOUT_USEC=5000000")
}

@Suite struct NotifyTests {
    @Test func datagramsOnPathSocket() async {
        await #expect(processExitsWith: .success) { expectLifecycleDatagrams(abstract: false) }
    }

    @Test func datagramsOnAbstractSocket() async {
        await #expect(processExitsWith: .success) { expectLifecycleDatagrams(abstract: true) }
    }

    @Test func withoutNotifySocketNothingIsSent() async {
        await #expect(processExitsWith: .success) {
            unsetenv("NOTIFY_SOCKET")
            #expect(!ServiceNotifier.notify("READY=1"))
            #expect((try? ServiceNotifier.send("READY=1")) == false, "no socket: false, not an error")
        }
    }

    @Test func unreachableNotifySocketIsAnErrorOnlyForSend() async {
        await #expect(processExitsWith: .success) {
            setenv("NOTIFY_SOCKET", "/nonexistent/sdkit/notify", 1)
            #expect(!ServiceNotifier.notify("READY=1"))
            let error = #expect(throws: SystemdError.self) { try ServiceNotifier.send("READY=1") }
            #expect(error?.call == "sd_notify")
            #expect(error?.errno == ENOENT)
        }
    }

    @Test func watchdogIntervalFollowsEnvironment() async {
        await #expect(processExitsWith: .success) {
            unsetenv("WATCHDOG_USEC")
            unsetenv("WATCHDOG_PID")
            #expect(ServiceNotifier.watchdogInterval() == nil)

            setenv("WATCHDOG_USEC", "30000000", 1)
            #expect(ServiceNotifier.watchdogInterval() == 30_000_000, "WATCHDOG_PID absent: ours")
            setenv("WATCHDOG_PID", String(getpid()), 1)
            #expect(ServiceNotifier.watchdogInterval() == 30_000_000)
            // A watchdog meant for the parent (e.g. a wrapper script) is not ours to ping.
            setenv("WATCHDOG_PID", String(getppid()), 1)
            #expect(ServiceNotifier.watchdogInterval() == nil)

            unsetenv("WATCHDOG_PID")
            setenv("WATCHDOG_USEC", "soon", 1)
            #expect(ServiceNotifier.watchdogInterval() == nil)
            // Queried again each time: sd_watchdog_enabled(0, …) leaves the environment alone.
            setenv("WATCHDOG_USEC", "2000000", 1)
            #expect(ServiceNotifier.watchdogInterval() == 2_000_000)
        }
    }
}
