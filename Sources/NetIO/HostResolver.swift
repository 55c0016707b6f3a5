import CLinux
import Dispatch
import Glibc

/// Host name resolution off the event loop.
///
/// getaddrinfo blocks, for as long as DNS takes (seconds per attempt when a resolver
/// is unreachable), and a blocked loop stops serving every client and pinging the
/// watchdog. So the lookup runs on a Dispatch worker and its answer comes back
/// through a pipe the loop watches; the completion runs on the loop.
public enum HostResolver {
    /// Calls `completion` on `loop` with the first numeric address of `host` ("127.0.0.1",
    /// "2001:db8::1"), or with an error text naming the host.
    /// `lookup` is getaddrinfo; tests pass a slow one.
    public static func resolve(_ host: String, on loop: EventLoop,
                               lookup: @escaping @Sendable (String) -> Result<String, ResolveError> = getaddrinfoLookup,
                               completion: @escaping (Result<String, ResolveError>) -> Void) {
        var fds: [Int32] = [0, 0]
        guard clinux_pipe_cloexec(&fds) == 0 else {
            return completion(.failure(ResolveError(host: host, reason: String(cString: strerror(errno)))))
        }
        let (readEnd, writeEnd) = (fds[0], fds[1])
        _ = try? Sockets.setNonBlocking(readEnd)
        var answer: [UInt8] = []
        do {
            try loop.register(fd: readEnd) { _ in
                var chunk = [UInt8](repeating: 0, count: 512)
                let n = chunk.withUnsafeMutableBytes { read(readEnd, $0.baseAddress, $0.count) }
                if n > 0 { answer.append(contentsOf: chunk[0..<n]); return }
                if n < 0 && (errno == EAGAIN || errno == EINTR) { return }
                loop.unregister(fd: readEnd)
                close(readEnd)
                let text = String(decoding: answer.dropFirst(), as: UTF8.self)
                completion(answer.first == UInt8(ascii: "+") ? .success(text)
                           : .failure(ResolveError(host: host, reason: text.isEmpty ? "no answer" : text)))
            }
        } catch {
            close(readEnd)
            close(writeEnd)
            return completion(.failure(ResolveError(host: host, reason: "\(error)")))
        }
        DispatchQueue.global(qos: .utility).async {
            let reply: [UInt8]
            switch lookup(host) {
            case .success(let address): reply = Array(("+" + address).utf8)
            case .failure(let error): reply = Array(("-" + error.reason).utf8)
            }
            _ = reply.withUnsafeBytes { write(writeEnd, $0.baseAddress, $0.count) }  // ≤ PIPE_BUF: atomic
            close(writeEnd)
        }
    }

    /// The first numeric address getaddrinfo gives for `host` (runs on the worker: it blocks).
    @Sendable public static func getaddrinfoLookup(_ host: String) -> Result<String, ResolveError> {
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var result: UnsafeMutablePointer<addrinfo>?
        let rc = getaddrinfo(host, nil, &hints, &result)
        guard rc == 0, let first = result else {
            return .failure(ResolveError(host: host, reason: String(cString: gai_strerror(rc))))
        }
        defer { freeaddrinfo(result) }
        var name = [CChar](repeating: 0, count: Int(NI_MAXHOST))
        guard getnameinfo(first.pointee.ai_addr, first.pointee.ai_addrlen, &name, socklen_t(name.count), nil, 0,
                          NI_NUMERICHOST) == 0 else { return .failure(ResolveError(host: host, reason: "no numeric address")) }
        return .success(String(decoding: name.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self))
    }
}

public struct ResolveError: Error, CustomStringConvertible, Sendable {
    public let host: String
    public let reason: String

    public init(host: String, reason: String) {
        self.host = host
        self.reason = reason
    }

    public var description: String { "cannot resolve \(host): \(reason)" }
}
