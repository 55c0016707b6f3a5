import JSONCore
import NetIO

/// A running agent backend, however it was started (a forked process group, or
/// a transient systemd unit): its stdin/stdout (and stderr when it is piped
/// back rather than in the journal), its end, and the ways to stop it.
protocol AgentProcess: AnyObject {
    /// Its stdin/stdout, and stderr unless that goes to the journal under the run's own unit.
    var pipes: AgentPipes { get }
    /// The wait status (as waitpid reports it) once the backend has ended.
    var exitStatus: Int32? { get }
    var onExit: ((Int32) -> Void)? { get set }
    /// How logs name it: `pid 42`, `unit openclaw-agent-….service`.
    var label: String { get }
    /// The transient unit's name, when the run has one.
    var unitName: String? { get }
    /// CPU time and peak memory, when known (`{cpuUsageNSec, memoryPeakBytes}`).
    func usage() -> JSONValue?

    /// Polite stop (timeout): SIGTERM to everything the run started.
    func requestStop()
    /// SIGKILL to everything the run started; its end is reported through `onExit` as usual.
    func kill()
    /// Kills everything the run started and forgets it at once (cancel, shutdown): no `onExit`.
    func terminate()
}

extension AgentProcess {
    var stdout: StreamChannel { pipes.stdout }
    /// Nil when stderr goes to the journal under the run's own unit.
    var stderrPipe: StreamChannel? { pipes.stderr }
    /// Writes the message to stdin, then EOF.
    func writeInputAndClose(_ bytes: [UInt8]) { pipes.writeInputAndClose(bytes) }
    /// Closes our ends of the pipes.
    func closePipes() { pipes.close() }
}
