import Glibc

/// Milliseconds on CLOCK_MONOTONIC: deadlines must not move when the wall clock does.
func monotonicMs() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) * 1000 + Double(ts.tv_nsec) / 1_000_000
}

/// Why a socket operation ended early, before it is given a URL and turned into a GatewayClientError.
enum SocketFailure: Error {
    case unreachable(String)
    case timedOut
    case eof
    case failed(String)
}

/// A non-blocking TCP socket driven by poll() with absolute deadlines, so
/// every wait in the client is bounded without threads or signals.
final class ClientSocket {
    private(set) var fd: Int32

    private init(fd: Int32) { self.fd = fd }

    deinit { close() }

    /// Tries every address the host resolves to (e.g. ::1 then 127.0.0.1 for
    /// localhost); a refused loopback connect fails at once rather than waiting.
    static func connect(host: String, port: Int, deadline: Double) throws(SocketFailure) -> ClientSocket {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        hints.ai_flags = AI_NUMERICSERV
        var list: UnsafeMutablePointer<addrinfo>?
        let rc = getaddrinfo(host, String(port), &hints, &list)
        guard rc == 0, let first = list else {
            throw .unreachable("cannot resolve \(host): \(String(cString: gai_strerror(rc)))")
        }
        defer { freeaddrinfo(list) }

        var lastError = "no address for \(host)"
        var entry: UnsafeMutablePointer<addrinfo>? = first
        while let info = entry {
            entry = info.pointee.ai_next
            let fd = socket(info.pointee.ai_family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue)
                | Int32(SOCK_CLOEXEC.rawValue), 0)
            guard fd >= 0 else { lastError = errnoText(); continue }
            let sock = ClientSocket(fd: fd)
            if Glibc.connect(fd, info.pointee.ai_addr, info.pointee.ai_addrlen) != 0 {
                guard errno == EINPROGRESS else { lastError = errnoText(); continue }
                guard try sock.wait(for: Int16(POLLOUT), until: deadline) else { throw .timedOut }
                var soError: Int32 = 0
                var length = socklen_t(MemoryLayout<Int32>.size)
                getsockopt(fd, SOL_SOCKET, SO_ERROR, &soError, &length)
                guard soError == 0 else { lastError = String(cString: strerror(soError)); continue }
            }
            var one: Int32 = 1
            setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
            return sock
        }
        throw .unreachable(lastError)
    }

    /// Waits for `events`; false when the deadline passed first.
    func wait(for events: Int16, until deadline: Double) throws(SocketFailure) -> Bool {
        while true {
            let remaining = deadline - monotonicMs()
            guard remaining > 0 else { return false }
            var pfd = pollfd(fd: fd, events: events, revents: 0)
            let rc = poll(&pfd, 1, Int32(min(remaining.rounded(.up), Double(Int32.max))))
            if rc > 0 { return true }
            if rc < 0 && errno != EINTR { throw .failed(errnoText()) }
        }
    }

    func sendAll(_ bytes: [UInt8], deadline: Double) throws(SocketFailure) {
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeBytes { send(fd, $0.baseAddress! + offset, bytes.count - offset, Int32(MSG_NOSIGNAL)) }
            if n > 0 {
                offset += n
            } else if errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR {
                guard try wait(for: Int16(POLLOUT), until: deadline) else { throw .timedOut }
            } else {
                throw errno == EPIPE || errno == ECONNRESET ? .eof : .failed(errnoText())
            }
        }
    }

    /// Reads what is available into `buffer`, waiting until `deadline`; returns the byte count.
    func receive(into buffer: inout [UInt8], deadline: Double) throws(SocketFailure) -> Int {
        while true {
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress!, $0.count, 0) }
            if n > 0 { return n }
            if n == 0 { throw .eof }
            if errno == ECONNRESET { throw .eof }
            guard errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR else { throw .failed(errnoText()) }
            guard try wait(for: Int16(POLLIN), until: deadline) else { throw .timedOut }
        }
    }

    func close() {
        guard fd >= 0 else { return }
        Glibc.close(fd)
        fd = -1
    }
}

func errnoText() -> String { String(cString: strerror(errno)) }
