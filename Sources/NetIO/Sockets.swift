import CLinux
import Glibc

/// A host and port as the kernel reported them.
public struct SocketAddress: Sendable, Equatable, CustomStringConvertible {
    public let host: String
    public let port: Int
    public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
}

/// Small typed wrappers over the socket calls the gateway needs.
public enum Sockets {
    public static func setNonBlocking(_ fd: Int32) throws(SystemCallError) {
        let flags = fcntl(fd, F_GETFL)
        guard flags >= 0, fcntl(fd, F_SETFL, flags | O_NONBLOCK) == 0 else { throw SystemCallError("fcntl(O_NONBLOCK)") }
    }

    /// Creates a listening TCP socket on a numeric IPv4/IPv6 address (or "localhost").
    public static func listenTCP(host: String, port: Int, backlog: Int32 = 1024) throws(SystemCallError) -> Int32 {
        let address = host == "localhost" ? "127.0.0.1" : host
        var storage = sockaddr_storage()
        let length = try fill(&storage, host: address, port: port)
        let fd = socket(Int32(storage.ss_family), Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
        guard fd >= 0 else { throw SystemCallError("socket") }
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        let bound = withUnsafePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) }
        }
        guard bound == 0 else {
            let e = errno
            Glibc.close(fd)
            throw SystemCallError("bind(\(SocketAddress(host: address, port: port)))", errno: e)
        }
        guard listen(fd, backlog) == 0 else {
            let e = errno
            Glibc.close(fd)
            throw SystemCallError("listen", errno: e)
        }
        return fd
    }

    /// Starts a non-blocking connect; the fd becomes writable when it completes (check `pendingError`).
    public static func connectTCP(host: String, port: Int) throws(SystemCallError) -> Int32 {
        var storage = sockaddr_storage()
        let address = host == "localhost" ? "127.0.0.1" : host
        let length = try fill(&storage, host: address, port: port)
        let fd = socket(Int32(storage.ss_family), Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
        guard fd >= 0 else { throw SystemCallError("socket") }
        let r = withUnsafePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, length) }
        }
        if r != 0 && errno != EINPROGRESS {
            let e = errno
            Glibc.close(fd)
            throw SystemCallError("connect(\(SocketAddress(host: address, port: port)))", errno: e)
        }
        return fd
    }

    /// SO_ERROR of a socket (0 when a non-blocking connect succeeded).
    public static func pendingError(_ fd: Int32) -> Int32 {
        var err: Int32 = 0
        var len = socklen_t(MemoryLayout<Int32>.size)
        getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len)
        return err
    }

    public enum AcceptResult {
        case accepted(Int32)
        /// Nothing pending.
        case empty
        /// The call failed for another reason (EMFILE, ENFILE, ENOBUFS…): the connection
        /// stays queued, so the caller must back off instead of spinning on a readable listener.
        case failed(SystemCallError)
    }

    /// Accepts one connection as non-blocking + close-on-exec.
    public static func accept(_ listener: Int32) -> AcceptResult {
        while true {
            let fd = clinux_accept_nonblocking(listener)
            if fd >= 0 { return .accepted(fd) }
            switch errno {
            case EINTR, ECONNABORTED: continue
            case EAGAIN, EWOULDBLOCK: return .empty
            default: return .failed(SystemCallError("accept4"))
            }
        }
    }

    public static func setNoDelay(_ fd: Int32) {
        var one: Int32 = 1
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
    }

    public static func localAddress(_ fd: Int32) -> SocketAddress? {
        address(fd, getsockname)
    }

    public static func peerAddress(_ fd: Int32) -> SocketAddress? {
        address(fd, getpeername)
    }

    private static func address(_ fd: Int32,
                                _ call: (Int32, UnsafeMutablePointer<sockaddr>, UnsafeMutablePointer<socklen_t>) -> Int32) -> SocketAddress? {
        var storage = sockaddr_storage()
        var len = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let ok = withUnsafeMutablePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { call(fd, $0, &len) }
        }
        guard ok == 0 else { return nil }
        return describe(storage)
    }

    static func describe(_ storage: sockaddr_storage) -> SocketAddress? {
        switch Int32(storage.ss_family) {
        case AF_INET:
            var sin = withUnsafeBytes(of: storage) { $0.load(as: sockaddr_in.self) }
            return withUnsafePointer(to: &sin.sin_addr) { render(family: AF_INET, address: $0, port: sin.sin_port) }
        case AF_INET6:
            var sin6 = withUnsafeBytes(of: storage) { $0.load(as: sockaddr_in6.self) }
            return withUnsafePointer(to: &sin6.sin6_addr) { render(family: AF_INET6, address: $0, port: sin6.sin6_port) }
        case AF_UNIX:
            return SocketAddress(host: "unix", port: 0)
        default:
            return nil
        }
    }

    private static func render(family: Int32, address: UnsafeRawPointer, port: in_port_t) -> SocketAddress {
        var buffer = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN) + 1)
        inet_ntop(family, address, &buffer, socklen_t(buffer.count))
        return SocketAddress(host: cString(buffer), port: Int(UInt16(bigEndian: port)))
    }

    private static func cString(_ buffer: [CChar]) -> String {
        String(decoding: buffer.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    private static func fill(_ storage: inout sockaddr_storage, host: String, port: Int) throws(SystemCallError) -> socklen_t {
        var v4 = sockaddr_in()
        if inet_pton(AF_INET, host, &v4.sin_addr) == 1 {
            v4.sin_family = sa_family_t(AF_INET)
            v4.sin_port = UInt16(port).bigEndian
            return store(v4, in: &storage)
        }
        var v6 = sockaddr_in6()
        if inet_pton(AF_INET6, host, &v6.sin6_addr) == 1 {
            v6.sin6_family = sa_family_t(AF_INET6)
            v6.sin6_port = UInt16(port).bigEndian
            return store(v6, in: &storage)
        }
        throw SystemCallError("inet_pton(\(host)): not a numeric IPv4/IPv6 address", errno: EINVAL)
    }

    /// Copies a concrete sockaddr into the storage; returns its length for bind/connect.
    private static func store<Address>(_ address: Address, in storage: inout sockaddr_storage) -> socklen_t {
        withUnsafeMutableBytes(of: &storage) { dst in withUnsafeBytes(of: address) { dst.copyMemory(from: $0) } }
        return socklen_t(MemoryLayout<Address>.size)
    }
}
