import CLinux
import Glibc

/// Many descriptors carried by one: they wait, in flight (SCM_RIGHTS), in the receive queue of
/// one end of a SOCK_SEQPACKET socket pair, and whoever holds that end takes them out in order.
///
/// The gateway parks its client sockets in systemd's fd store this way: systemd 252 compares
/// every fd it stores with every fd already there (kcmp), so 1,000 client fds cost PID 1
/// 500,000 system calls (about a second, during which it serves nobody) and 4,096 about
/// 17 seconds; one bundle costs it one.
public enum DescriptorBundle {
    /// Descriptors per message: the kernel's SCM_MAX_FD is 253.
    static let batchSize = 250

    /// A bundle holding duplicates of `fds` (the caller's stay open). The sending end is closed,
    /// so the receiver sees the end of the queue once the last message is read.
    public static func pack(_ fds: [Int32]) throws(SystemCallError) -> Int32 {
        var pair: [Int32] = [-1, -1]
        guard socketpair(AF_UNIX, Int32(SOCK_SEQPACKET.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0, &pair) == 0 else {
            throw SystemCallError("socketpair")
        }
        defer { close(pair[0]) }
        for start in stride(from: 0, to: fds.count, by: batchSize) {
            let batch = Array(fds[start..<min(fds.count, start + batchSize)])
            let code = batch.withUnsafeBufferPointer { clinux_send_fds(pair[0], $0.baseAddress, Int32($0.count)) }
            guard code == 0 else {
                close(pair[1])
                throw SystemCallError("sendmsg(SCM_RIGHTS, \(batch.count) fds)", errno: code)
            }
        }
        return pair[1]
    }

    /// Every descriptor still in the bundle `fd` (close-on-exec), in the order packed, at most
    /// `max` (the rest are closed). Does not close `fd`.
    public static func unpack(_ fd: Int32, max: Int) throws(SystemCallError) -> [Int32] {
        var fds: [Int32] = []
        var batch = [Int32](repeating: -1, count: 253)
        while true {
            let room = Swift.max(0, Swift.min(batch.count, max - fds.count))
            let count = batch.withUnsafeMutableBufferPointer { clinux_recv_fds(fd, $0.baseAddress, Int32(room)) }
            guard count >= 0 else { throw SystemCallError("recvmsg(SCM_RIGHTS)") }
            if count == 0 { return fds }
            fds += batch[0..<Int(count)]
        }
    }
}
