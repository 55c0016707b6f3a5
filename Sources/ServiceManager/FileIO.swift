import CLinux
import Glibc

/// The few file operations install/uninstall/doctor need, over Glibc (no
/// Foundation in library modules). Errors carry the path and errno.
enum FileIO {
    static func exists(_ path: String) -> Bool { access(path, F_OK) == 0 }

    /// nil when the file does not exist.
    static func read(_ path: String) throws(ServiceError) -> [UInt8]? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        if fd < 0 {
            if errno == ENOENT || errno == ENOTDIR { return nil }
            throw .file(path, errno)
        }
        defer { close(fd) }
        var out: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 16384)
        while true {
            let n = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw .file(path, errno)
            }
            if n == 0 { return out }
            out += chunk[0..<n]
        }
    }

    static func readText(_ path: String) throws(ServiceError) -> String? {
        try read(path).map { String(decoding: $0, as: UTF8.self) }
    }

    /// Writes via a temporary file and rename, so a reader never sees half a
    /// unit or token; the file has `mode` from the start (never briefly wider).
    static func writeAtomically(_ path: String, _ bytes: [UInt8], mode: mode_t,
                                owner: (uid: uid_t, gid: gid_t)? = nil) throws(ServiceError) {
        let tmp = path + ".tmp-\(getpid())"
        let fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, mode)
        if fd < 0 { throw .file(tmp, errno) }
        var failure: Int32 = 0
        var offset = 0
        while offset < bytes.count && failure == 0 {
            let n = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + offset, $0.count - offset) }
            if n < 0 { if errno != EINTR { failure = errno } } else { offset += n }
        }
        if failure == 0 && fchmod(fd, mode) != 0 { failure = errno }
        if failure == 0, let owner, fchown(fd, owner.uid, owner.gid) != 0 { failure = errno }
        if failure == 0 && fsync(fd) != 0 { failure = errno }
        close(fd)
        if failure == 0 && rename(tmp, path) != 0 { failure = errno }
        if failure != 0 {
            unlink(tmp)
            throw .file(path, failure)
        }
    }

    /// `mkdir -p`; the last component gets `mode` (and owner) even when it already existed.
    static func makeDirectories(_ path: String, mode: mode_t, owner: (uid: uid_t, gid: gid_t)? = nil)
        throws(ServiceError)
    {
        var prefix = ""
        for component in path.split(separator: "/") {
            prefix += "/" + component
            if mkdir(prefix, 0o755) != 0 && errno != EEXIST { throw .file(prefix, errno) }
        }
        if Glibc.chmod(path, mode) != 0 { throw .file(path, errno) }
        if let owner, chown(path, owner.uid, owner.gid) != 0 { throw .file(path, errno) }
    }

    static func remove(_ path: String) throws(ServiceError) -> Bool {
        if unlink(path) == 0 { return true }
        if errno == ENOENT { return false }
        throw .file(path, errno)
    }

    /// Permission bits, or nil when the file is missing.
    static func mode(_ path: String) -> mode_t? {
        var st = stat()
        return stat(path, &st) == 0 ? st.st_mode & 0o7777 : nil
    }

    static func chmod(_ path: String, _ mode: mode_t) throws(ServiceError) {
        if Glibc.chmod(path, mode) != 0 { throw .file(path, errno) }
    }

    /// Removes a directory tree without following symlinks (`rm -rf`); false when it did not exist.
    static func removeTree(_ path: String) throws(ServiceError) -> Bool {
        guard path.hasPrefix("/"), path.split(separator: "/").count >= 2 else { throw .file(path, EINVAL) }
        if !exists(path) { return false }
        let result = clinux_remove_tree(path)
        if result != 0 { throw .file(path, result) }
        return true
    }
}
