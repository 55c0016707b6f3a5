import Glibc
import NetIO

/// Whole-file reads, complete writes and directory fsyncs for the gateway's
/// own files in the state dir (transcripts), with the errno kept so callers
/// can tell a full disk (ENOSPC) or a failing one (EIO) from a missing file.
/// Symlinks are never followed (O_NOFOLLOW): whoever can write the state dir
/// must not be able to point a transcript at another file.
enum DurableFile {
    /// The file's bytes, or nil when it does not exist. Only a regular file is read, opened
    /// non-blocking: a FIFO planted in the state dir would otherwise block the event loop.
    static func read(_ path: String) throws(SystemCallError) -> [UInt8]? {
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY | O_NOFOLLOW)
        if fd < 0 {
            if errno == ENOENT { return nil }
            throw SystemCallError("open \(path)")
        }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw SystemCallError("fstat \(path)") }
        guard st.st_mode & S_IFMT == S_IFREG else { throw SystemCallError("read \(path) (not a regular file)", errno: EINVAL) }
        var data: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            let n = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            if n < 0 { throw SystemCallError("read \(path)") }
            if n == 0 { return data }
            data.append(contentsOf: chunk[0..<n])
        }
    }

    /// Writes every byte (a short write is retried; an error is thrown with its errno).
    static func writeAll(_ fd: Int32, _ bytes: [UInt8], path: String) throws(SystemCallError) {
        var off = 0
        while off < bytes.count {
            let n = bytes.withUnsafeBytes { write(fd, $0.baseAddress! + off, bytes.count - off) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { throw SystemCallError("write \(path)", errno: n == 0 ? EIO : errno) }
            off += n
        }
    }

    /// Appends `bytes` and makes them durable before returning. A write that
    /// fails part-way (ENOSPC) is cut off again, so the next append starts on a line of its own.
    static func append(_ path: String, _ bytes: [UInt8]) throws(SystemCallError) {
        let fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0o600)
        guard fd >= 0 else { throw SystemCallError("open \(path)") }
        defer { close(fd) }
        let before = lseek(fd, 0, SEEK_END)
        do throws(SystemCallError) {
            try writeAll(fd, bytes, path: path)
        } catch {
            if before >= 0 { _ = ftruncate(fd, before) }
            throw error
        }
        guard fdatasync(fd) == 0 else { throw SystemCallError("fsync \(path)") }
    }

    /// Replaces `path` atomically: temp file, fsync, rename, fsync of the directory.
    static func replace(_ path: String, with bytes: [UInt8]) throws(SystemCallError) {
        let tmp = path + ".tmp"
        // A leftover or planted entry at the temp name (a symlink whose target would be
        // truncated) is removed, never followed, and the file is created fresh.
        if unlink(tmp) != 0 && errno != ENOENT { throw SystemCallError("unlink \(tmp)") }
        let fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0o600)
        guard fd >= 0 else { throw SystemCallError("open \(tmp)") }
        do throws(SystemCallError) {
            try writeAll(fd, bytes, path: tmp)
            guard fsync(fd) == 0 else { throw SystemCallError("fsync \(tmp)") }
        } catch {
            close(fd)
            unlink(tmp)
            throw error
        }
        close(fd)
        guard rename(tmp, path) == 0 else { throw SystemCallError("rename \(tmp)") }
        syncDirectory(of: path)
    }

    /// Makes a create/rename in the file's directory durable (best effort: some file systems refuse).
    static func syncDirectory(of path: String) {
        let dir = path.lastIndex(of: "/").map { String(path[..<$0]) } ?? "."
        let dfd = open(dir.isEmpty ? "/" : dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard dfd >= 0 else { return }
        _ = fsync(dfd)
        close(dfd)
    }
}
