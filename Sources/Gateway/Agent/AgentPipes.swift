import NetIO

/// Our ends of an agent backend's pipes, however the backend runs (`ChildProcess`,
/// `TransientUnitProcess`): stdin takes the message and then EOF (which tells the
/// backend the input is complete), stdout is the reply, and stderr, when it comes
/// back to us rather than going to the journal under the run's own unit, is logged.
final class AgentPipes {
    private var stdin: StreamChannel?
    let stdout: StreamChannel
    let stderr: StreamChannel?

    /// Non-blocking channels on `loop` over our ends; stdin may hold a whole message (16 MiB).
    init(loop: EventLoop, stdin: Int32, stdout: Int32, stderr: Int32? = nil) throws(SystemCallError) {
        self.stdin = try StreamChannel(loop: loop, fd: stdin, maxBufferedBytes: 16 << 20)
        self.stdout = try StreamChannel(loop: loop, fd: stdout)
        if let stderr { self.stderr = try StreamChannel(loop: loop, fd: stderr) } else { self.stderr = nil }
    }

    /// Writes `bytes` to stdin and closes it once they are flushed.
    func writeInputAndClose(_ bytes: [UInt8]) {
        guard let stdin else { return }
        stdin.write(bytes)
        stdin.closeAfterFlush()
    }

    /// Closes every pipe (the channels must not outlive their process object while registered).
    func close() {
        stdin?.close()
        stdin = nil
        stdout.close()
        stderr?.close()
    }
}
