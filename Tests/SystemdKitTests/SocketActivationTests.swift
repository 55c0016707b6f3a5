import Glibc
@testable import SystemdKit
import Testing

// sd_listen_fds only looks at fd 3 onwards, and fd 3 of this process belongs to the test runner,
// so the activation itself runs in a child: this test binary started again (filtered to
// `activatedChildReport`) by systemd-socket-activate or by a shell that does what systemd does.

private let reportVariable = "SDKIT_ACTIVATION_REPORT"
private let listenVariables = ["LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES", "LISTEN_PIDFDID"]
private let socketActivate = "/usr/bin/systemd-socket-activate"

/// The child side: adopts what it was handed and writes one line about it for the parent.
@Test(.enabled(if: getenv(reportVariable) != nil, "runs only as the activated child"))
func activatedChildReport() {
    var report: String
    do {
        let descriptors = try SocketActivation.takeDescriptors(storedNames: ["stored-a", "stored-b"])
        let sockets = descriptors.listeners
        report = "sockets=" + sockets.map { "\($0.fd):\($0.name ?? "-")" }.joined(separator: ",")
        if !descriptors.stored.isEmpty {
            report += " stored=" + descriptors.stored.map { "\($0.fd):\($0.name ?? "-")" }.joined(separator: ",")
        }
        report += " cloexec=" + sockets.map { fcntl($0.fd, F_GETFD) & FD_CLOEXEC != 0 ? "1" : "0" }.joined()
        if let first = sockets.first { report += " served=\(serveOneClient(first.fd))" }
    } catch {
        report = "error=\(error.call) errno=\(error.errno)"
    }
    report += " leftover=" + listenVariables.filter { getenv($0) != nil }.joined(separator: ",")
    DaemonTestSupport.writeFile(String(cString: getenv(reportVariable)), report)
}

/// Proves the fd is the live listening socket: the parent's pending connection gets a greeting.
private func serveOneClient(_ listener: Int32) -> Bool {
    var poller = pollfd(fd: listener, events: Int16(POLLIN), revents: 0)
    guard poll(&poller, 1, 5_000) == 1 else { return false }
    let connection = accept(listener, nil, nil)
    guard connection >= 0 else { return false }
    defer { close(connection) }
    return write(connection, "hello", 5) == 5
}

/// Runs the child the way `launcher(directory)` starts it (it is given a private temporary
/// directory, and this test binary is appended), and returns the child's report.
private func runActivatedChild(
    _ launcher: (String) -> [String], whileRunning: (String) -> Void = { _ in }
) -> String? {
    let directory = DaemonTestSupport.makeTemporaryDirectory()
    defer { DaemonTestSupport.removeTree(directory) }
    let reportPath = directory + "/report"
    let argv = launcher(directory) + [DaemonTestSupport.executablePath, "--testing-library", "swift-testing",
                           "--filter", "activatedChildReport"]
    let environment = ["PATH=/usr/bin:/bin", "\(reportVariable)=\(reportPath)"]
    guard let pid = DaemonTestSupport.spawn(argv, environment: environment, outputPath: directory + "/output")
    else { return nil }
    whileRunning(directory)
    let status = DaemonTestSupport.wait(for: pid, seconds: 30)
    let report = DaemonTestSupport.readFile(reportPath)
    if report == nil || status != 0 {
        Issue.record("child status \(String(describing: status)), output:\n\(DaemonTestSupport.readFile(directory + "/output") ?? "")")
    }
    return report
}

/// Connects to the activation socket once it exists (that is what makes the launcher exec) and
/// returns what the activated child writes back.
private func connectAndRead(_ path: String) -> String? {
    let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
    defer { close(fd) }
    var timeout = timeval(tv_sec: 20, tv_usec: 0)
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    for _ in 0..<500 {
        if DaemonTestSupport.withUnixAddress(path, { connect(fd, $0, $1) }) == 0 {
            var buffer = [UInt8](repeating: 0, count: 16)
            let count = read(fd, &buffer, buffer.count)
            return count > 0 ? String(decoding: buffer[..<count], as: UTF8.self) : nil
        }
        usleep(10_000)
    }
    return nil
}

/// `exec` keeps the shell's pid, so `$$` is what LISTEN_PID must be; `$0` is the test binary.
private func shellLauncher(_ script: String) -> (String) -> [String] {
    { _ in ["/bin/sh", "-c", script + "; exec \"$0\" \"$@\""] }
}

@Suite struct SocketActivationTests {
    @Test(.enabled(if: access(socketActivate, X_OK) == 0, "needs systemd-socket-activate"))
    func adoptsSocketFromSystemdSocketActivate() {
        var greeting: String?
        let report = runActivatedChild(
            { [socketActivate, "--listen=\($0)/gateway.sock", "--fdname=gateway", "--setenv=LISTEN_PIDFDID=12345",
               "--setenv=\(reportVariable)"] },
            whileRunning: { greeting = connectAndRead($0 + "/gateway.sock") }
        )
        #expect(greeting == "hello")
        #expect(report == "sockets=3:gateway cloexec=1 served=true leftover=")
    }

    @Test(.enabled(if: access(socketActivate, X_OK) == 0, "needs systemd-socket-activate"))
    func socketWithoutNamesHasNoName() {
        var greeting: String?
        let report = runActivatedChild(
            { [socketActivate, "--listen=\($0)/plain.sock", "--setenv=\(reportVariable)"]
                + shellLauncher("unset LISTEN_FDNAMES")($0) },
            whileRunning: { greeting = connectAndRead($0 + "/plain.sock") }
        )
        #expect(greeting == "hello")
        #expect(report == "sockets=3:- cloexec=1 served=true leftover=")
    }

    /// Hand-made hand-overs: (shell prelude run before exec'ing the child, expected report).
    @Test(arguments: [
        // A non-socket at fd 3 is refused, naming the fd, and LISTEN_* (incl. LISTEN_PIDFDID) is gone.
        ("exec 3</dev/null; export LISTEN_PID=$$ LISTEN_FDS=1 LISTEN_FDNAMES=config LISTEN_PIDFDID=7",
         "error=sd_is_socket(fd 3 \"config\") errno=\(ENOTSOCK) leftover="),
        ("exec 3</dev/null; export LISTEN_PID=$$ LISTEN_FDS=1", "error=sd_is_socket(fd 3) errno=\(ENOTSOCK) leftover="),
        // Fds meant for another process (e.g. our parent) are not ours, but the variables still go.
        ("exec 3</dev/null; export LISTEN_PID=1 LISTEN_FDS=1 LISTEN_FDNAMES=config", "sockets= cloexec= leftover="),
        ("exec 3</dev/null; export LISTEN_PID=$$ LISTEN_FDS=1 LISTEN_FDNAMES=a:b",
         "error=sd_listen_fds_with_names errno=\(EINVAL) leftover="),
        (":", "sockets= cloexec= leftover="),
        // What a previous instance stored comes back by name, whatever it is; the rest must listen.
        ("exec 3</dev/null 4</dev/null 5</dev/null; export LISTEN_PID=$$ LISTEN_FDS=3 LISTEN_FDNAMES=stored-b:stored-a:stored-b",
         "sockets= stored=3:stored-b,4:stored-a,5:stored-b cloexec= leftover="),
        ("exec 3</dev/null 4</dev/null; export LISTEN_PID=$$ LISTEN_FDS=2 LISTEN_FDNAMES=stored-a:gateway",
         "error=sd_is_socket(fd 4 \"gateway\") errno=\(ENOTSOCK) leftover="),
    ])
    func handOverByShell(prelude: String, expected: String) {
        #expect(runActivatedChild(shellLauncher(prelude)) == expected)
    }

    /// The refusal reasons, on fds of this process (no fd-3 juggling needed for these).
    @Test func streamCheckExplainsWhatIsWrong() throws {
        var pipeEnds: [Int32] = [0, 0]
        #expect(pipe(&pipeEnds) == 0)
        let datagram = socket(AF_INET, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        let idle = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        let listening = socket(AF_INET6, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        defer { (pipeEnds + [datagram, idle, listening]).forEach { close($0) } }
        #expect(listen(listening, 1) == 0)

        func failure(_ fd: Int32) -> SystemdError? {
            #expect(throws: SystemdError.self) { try SocketActivation.requireListeningStream(fd: fd, name: "gw") }
        }
        #expect(failure(pipeEnds[0])?.errno == ENOTSOCK)
        #expect(failure(datagram)?.errno == ESOCKTNOSUPPORT)
        #expect(failure(datagram)?.description.contains("fd \(datagram) \"gw\"") == true)
        #expect(failure(idle)?.errno == EINVAL)
        #expect(failure(idle)?.call.hasSuffix("not listening") == true)
        #expect(throws: Never.self) { try SocketActivation.requireListeningStream(fd: listening, name: nil) }
    }
}
