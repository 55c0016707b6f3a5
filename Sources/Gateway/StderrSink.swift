import Glibc

/// The daemon's stderr, written without ever blocking the event loop.
///
/// A pipe or socket nobody drains would otherwise stop the whole gateway (SIGTERM
/// included) inside `write(2)`. Such descriptors are switched to non-blocking; a
/// line the kernel cannot take now waits in a small buffer, and lines beyond that
/// are dropped and counted. The count is reported as soon as stderr drains.
struct StderrSink {
    /// Bytes waiting for stderr to drain; past this, whole lines are dropped.
    static let pendingLimit = 64 * 1024
    private let fd: Int32
    private var pending: [UInt8] = []
    private(set) var dropped = 0

    init(fd: Int32 = 2) {
        self.fd = fd
        var st = stat()
        guard fstat(fd, &st) == 0 else { return }
        let kind = st.st_mode & S_IFMT
        // Terminals and files do not stall for long; pipes and sockets can stall forever.
        if kind == S_IFIFO || kind == S_IFSOCK {
            let flags = fcntl(fd, F_GETFL)
            if flags >= 0 { _ = fcntl(fd, F_SETFL, flags | O_NONBLOCK) }
        }
    }

    /// Writes a line (with its newline), or queues or drops it when stderr is full.
    mutating func write(_ line: String) {
        if !pending.isEmpty { drain() }
        if dropped > 0 && pending.isEmpty {
            let note = "openclaw-gateway: \(dropped) log line(s) dropped: stderr was not being read\n"
            dropped = 0
            enqueue(Array(note.utf8))
        }
        enqueue(Array(line.utf8))
    }

    private mutating func enqueue(_ bytes: [UInt8]) {
        if pending.isEmpty {
            let n = writeSome(bytes[...])
            if n == bytes.count { return }
            pending.append(contentsOf: bytes[n...])  // the rest of a started line always follows
            return
        }
        if pending.count + bytes.count > Self.pendingLimit {
            dropped += 1
            return
        }
        pending.append(contentsOf: bytes)
    }

    private mutating func drain() {
        let n = writeSome(pending[...])
        pending.removeSubrange(0..<n)
    }

    /// Bytes accepted by the kernel (0 when it would block or stderr is gone).
    private func writeSome(_ bytes: ArraySlice<UInt8>) -> Int {
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + offset, $0.count - offset) }
            if n > 0 { offset += n; continue }
            if n < 0 && errno == EINTR { continue }
            break
        }
        return offset
    }
}
