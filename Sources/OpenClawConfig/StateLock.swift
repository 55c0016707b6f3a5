import Glibc

/// An exclusive `flock` on a file in a profile's state directory, held until released
/// or the process exits (the kernel drops it even on SIGKILL, so a crash leaves no
/// stale lock). The holder writes its pid into the file, so a refused process can say
/// who holds it.
///
/// `gateway.lock`: one gateway per profile (a second one would share the state dir,
/// the send ledger and the channel identity). `install.lock`: concurrent installs run
/// one after the other, each seeing what the previous one wrote.
public final class StateLock {
    public let path: String
    private let fd: Int32

    public enum Failure: Error, Sendable, Equatable {
        /// Another process holds it; its pid when it wrote one.
        case held(path: String, pid: Int32?)
        case system(path: String, errno: Int32)
    }

    private init(path: String, fd: Int32) {
        self.path = path
        self.fd = fd
    }

    deinit { close(fd) }

    /// Takes the lock, waiting up to `waitMs` (0: not at all) for a holder to let go.
    /// `owner` (as root) makes a newly created file belong to the profile's account.
    public static func acquire(_ path: String, waitMs: Int = 0, owner: (uid: uid_t, gid: gid_t)? = nil)
        throws(Failure) -> StateLock
    {
        var fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0o600)
        // flock needs no write access: an existing file on a read-only file system still locks
        // (the holder's pid is then not written).
        let createError = errno
        if fd < 0 && (createError == EROFS || createError == EACCES) {
            fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)
            if fd < 0 && errno == ENOENT { throw .system(path: path, errno: createError) }
        }
        if fd < 0 { throw .system(path: path, errno: errno) }
        if let owner { _ = fchown(fd, owner.uid, owner.gid) }
        var waited = 0
        while flock(fd, LOCK_EX | LOCK_NB) != 0 {
            let code = errno
            if code == EINTR { continue }
            guard code == EWOULDBLOCK else {
                close(fd)
                throw .system(path: path, errno: code)
            }
            if waited >= waitMs {
                let pid = holderPid(fd)
                close(fd)
                throw .held(path: path, pid: pid)
            }
            usleep(50_000)
            waited += 50
        }
        let text = Array("\(getpid())\n".utf8)
        _ = ftruncate(fd, 0)
        _ = text.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, 0) }
        return StateLock(path: path, fd: fd)
    }

    private static func holderPid(_ fd: Int32) -> Int32? {
        var buffer = [UInt8](repeating: 0, count: 16)
        let n = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, 0) }
        guard n > 0 else { return nil }
        return Int32(String(decoding: buffer[0..<n], as: UTF8.self).split(separator: "\n").first ?? "")
    }
}
