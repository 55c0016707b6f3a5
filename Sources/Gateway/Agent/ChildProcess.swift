import CLinux
import Glibc
import JSONCore
import NetIO

/// A child process on the loop: spawned in its own process group, stdin/stdout/
/// stderr as non-blocking pipes, its exit seen through a pidfd (no SIGCHLD, which
/// the loop's signalfd does not own). Killing the *group* reaches everything the
/// child started unless it left the group on purpose (setsid). The group also dies
/// with the gateway, even a SIGKILLed one, through a reaper process of ours in it
/// (see `clinux_spawn_group`), which is reaped here after the group is killed.
final class ChildProcess: AgentProcess {
    let pid: pid_t
    private let reaper: pid_t
    private unowned let loop: EventLoop
    private var pidfd: Int32
    let pipes: AgentPipes
    /// The wait status once the child has exited and been reaped.
    private(set) var exitStatus: Int32?
    var onExit: ((Int32) -> Void)?
    private var resourceUsage: rusage?

    /// Spawns `argv` (PATH lookup for argv[0]) with `environment` appended to ours
    /// minus what `AgentEnvironment` withholds.
    init(loop: EventLoop, argv: [String], environment: [(String, String)]) throws(SystemCallError) {
        self.loop = loop
        var inPipe: [Int32] = [-1, -1], outPipe: [Int32] = [-1, -1], errPipe: [Int32] = [-1, -1]
        func closeAll() { for fd in inPipe + outPipe + errPipe where fd >= 0 { close(fd) } }
        guard clinux_pipe_cloexec(&inPipe) == 0, clinux_pipe_cloexec(&outPipe) == 0, clinux_pipe_cloexec(&errPipe) == 0 else {
            let e = errno
            closeAll()
            throw SystemCallError("pipe2", errno: e)
        }
        var env: [String] = []
        var p = environ
        while let entry = p.pointee {
            let e = String(cString: entry)
            if !AgentEnvironment.isWithheld(e[...]) { env.append(e) }
            p += 1
        }
        let overridden = Set(environment.map { $0.0 + "=" })
        env.removeAll { e in overridden.contains { e.hasPrefix($0) } }
        env += environment.map { "\($0.0)=\($0.1)" }

        var child: pid_t = 0, reaper: pid_t = 0
        let rc = withCStrings(argv) { cargv in
            withCStrings(env) { cenv in
                clinux_spawn_group(cargv, cenv, inPipe[0], outPipe[1], errPipe[1], &child, &reaper)
            }
        }
        // The child has its copies; ours of its ends must go or EOF never comes.
        close(inPipe[0]); close(outPipe[1]); close(errPipe[1])
        guard rc == 0 else {
            close(inPipe[1]); close(outPipe[0]); close(errPipe[0])
            throw SystemCallError("spawn \(argv.first ?? "")", errno: rc)
        }
        pid = child
        self.reaper = reaper
        pidfd = clinux_pidfd_open(child)
        do throws(SystemCallError) {
            guard pidfd >= 0 else { throw SystemCallError("pidfd_open") }
            pipes = try AgentPipes(loop: loop, stdin: inPipe[1], stdout: outPipe[0], stderr: errPipe[0])
            try loop.register(fd: pidfd) { [unowned self] _ in self.reap() }
        } catch {
            Glibc.kill(-child, SIGKILL)
            Self.waitBlocking(child)
            Self.waitBlocking(reaper)
            throw error
        }
    }

    /// Kills the group and reaps the leader now (shutdown: the loop is about to stop).
    func terminate() {
        closePipes()
        guard exitStatus == nil else { return }
        Glibc.kill(-pid, SIGKILL)
        exitStatus = Self.waitBlocking(pid)
        Self.waitBlocking(reaper)
        if pidfd >= 0 {
            loop.unregister(fd: pidfd)
            close(pidfd)
            pidfd = -1
        }
    }

    /// Signals the whole process group.
    func signalGroup(_ signal: Int32) {
        guard exitStatus == nil else { return }
        Glibc.kill(-pid, signal)
    }

    // MARK: AgentProcess

    var label: String { "pid \(pid)" }
    var unitName: String? { nil }
    /// The backend process's own CPU time and peak resident memory (from wait4;
    /// what its children used is not counted: a process group has no accounting).
    func usage() -> JSONValue? {
        guard let r = resourceUsage else { return nil }
        let cpuNs = (Int64(r.ru_utime.tv_sec) + Int64(r.ru_stime.tv_sec)) * 1_000_000_000
            + (Int64(r.ru_utime.tv_usec) + Int64(r.ru_stime.tv_usec)) * 1000
        return ["cpuUsageNSec": .int(cpuNs), "memoryPeakBytes": .int(Int64(r.ru_maxrss) * 1024), "scope": "process"]
    }
    func requestStop() { signalGroup(SIGTERM) }
    func kill() { signalGroup(SIGKILL) }

    private func reap() {
        guard exitStatus == nil else { return }
        // The leader is a zombie now, so its pid (the group id) cannot have been reused:
        // clear out anything it left running in its group, then reap it.
        Glibc.kill(-pid, SIGKILL)
        var status: Int32 = 0
        var usage = rusage()
        let r = wait4(pid, &status, WNOHANG, &usage)
        guard r == pid else { return }
        resourceUsage = usage
        Self.waitBlocking(reaper)
        loop.unregister(fd: pidfd)
        close(pidfd)
        pidfd = -1
        exitStatus = status
        onExit?(status)
    }

    /// Reaps `pid` once SIGKILLed (only SIGKILL stops the reaper): a wait measured in microseconds.
    @discardableResult
    private static func waitBlocking(_ pid: pid_t) -> Int32 {
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        return status
    }

    /// Exit code, or 128 + signal number like a shell reports it.
    static func describe(_ status: Int32) -> (code: Int32, text: String) {
        let signal = status & 0x7f
        if signal == 0 {
            let code = (status >> 8) & 0xff
            return (code, "exited with status \(code)")
        }
        return (128 + signal, "killed by signal \(signal)")
    }
}

/// NUL-terminated C string arrays for posix_spawn, valid during `body`.
private func withCStrings<R>(_ strings: [String], _ body: (UnsafePointer<UnsafePointer<CChar>?>) -> R) -> R {
    let owned = strings.map { strdup($0) }
    defer { for p in owned { free(p) } }
    let pointers: [UnsafePointer<CChar>?] = owned.map { $0.map { UnsafePointer($0) } } + [nil]
    return pointers.withUnsafeBufferPointer { body($0.baseAddress!) }
}
