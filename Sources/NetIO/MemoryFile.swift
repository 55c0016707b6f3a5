import CLinux
import Glibc

/// An anonymous file in memory (memfd): how bytes travel where only file descriptors can,
/// such as the gateway's hand-over state through systemd's file descriptor store.
public enum MemoryFile {
    /// A new memfd (close-on-exec) holding `bytes`; `name` shows in /proc/PID/fd for whoever debugs it.
    public static func create(name: String, bytes: [UInt8]) throws(SystemCallError) -> Int32 {
        let fd = name.withCString { clinux_memfd_create($0) }
        guard fd >= 0 else { throw SystemCallError("memfd_create") }
        var written = 0
        while written < bytes.count {
            let n = bytes.withUnsafeBytes { raw in Glibc.write(fd, raw.baseAddress! + written, raw.count - written) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else {
                let error = SystemCallError("write(memfd)", errno: n < 0 ? errno : EIO)
                close(fd)
                throw error
            }
            written += n
        }
        return fd
    }

    /// Reads `fd` from offset 0 to its end in chunks, each given to `consume` (valid only during
    /// the call), so a reader that parses incrementally never holds the whole file. A file longer
    /// than `maxBytes` is refused (EFBIG) before anything is read: the size comes from fstat.
    public static func read(_ fd: Int32, maxBytes: Int, _ consume: (UnsafeRawBufferPointer) -> Void) throws(SystemCallError) {
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw SystemCallError("fstat") }
        guard Int(info.st_size) <= maxBytes else { throw SystemCallError("read(memfd, \(info.st_size) bytes)", errno: EFBIG) }
        let chunk = UnsafeMutableRawBufferPointer.allocate(byteCount: 64 * 1024, alignment: 1)
        defer { chunk.deallocate() }
        var offset = 0
        while offset <= maxBytes {
            let n = pread(fd, chunk.baseAddress, chunk.count, off_t(offset))
            if n < 0 && errno == EINTR { continue }
            guard n >= 0 else { throw SystemCallError("pread(memfd)") }
            if n == 0 { return }
            consume(UnsafeRawBufferPointer(rebasing: chunk[0..<n]))
            offset += n
        }
        throw SystemCallError("read(memfd, more than \(maxBytes) bytes)", errno: EFBIG)
    }
}

/// Which open file a descriptor refers to (device and inode from fstat): the same socket
/// keeps its identity when the descriptor is passed to another process, whatever its number there.
public struct FileIdentity: Hashable, Sendable {
    public let device: UInt64
    public let inode: UInt64

    public init(device: UInt64, inode: UInt64) {
        self.device = device
        self.inode = inode
    }

    public init?(fd: Int32) {
        var info = stat()
        guard fstat(fd, &info) == 0 else { return nil }
        self.init(device: UInt64(info.st_dev), inode: UInt64(info.st_ino))
    }
}
