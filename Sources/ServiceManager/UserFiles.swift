import CLinux
import Glibc

/// Root touching the service user's files (state dir, token, config) does so
/// with that user's filesystem identity (setfsuid/setfsgid), so whatever the
/// user planted there (`gateway.token -> /etc/shadow`, `~/.openclaw -> /etc`)
/// leads only where the user could go anyway: while fsuid is not 0 the kernel
/// also drops CAP_CHOWN, CAP_DAC_OVERRIDE and CAP_FOWNER, so no chmod/chown
/// reaches a file the user does not own, and files created there belong to the
/// user from the start. On top of that a symlinked state dir or token file is
/// refused outright, with the reason.
struct UserFiles {
    let uid: uid_t
    let gid: gid_t
    let stateDir: String
    let tokenFile: String

    init(_ target: ServiceTarget) {
        uid = uid_t(target.uid)
        gid = gid_t(target.gid)
        stateDir = target.paths.stateDir
        tokenFile = target.paths.tokenFile
    }

    /// True when this process is root acting for another account.
    var actsForAnotherUser: Bool { geteuid() == 0 && uid != 0 }

    /// Runs `body` as the user (filesystem-wise) when root acts for another account.
    func access<T>(_ body: () throws(ServiceError) -> T) throws(ServiceError) -> T {
        guard actsForAnotherUser else { return try body() }
        try refuseSymlinks()
        let oldGid = setfsgid(gid)
        let oldUid = setfsuid(uid)
        defer {
            setfsuid(uid_t(oldUid))
            setfsgid(gid_t(oldGid))
        }
        return try body()
    }

    private func refuseSymlinks() throws(ServiceError) {
        for (path, what) in [(stateDir, "state directory"), (tokenFile, "token file")] {
            var st = stat()
            guard lstat(path, &st) == 0, st.st_mode & S_IFMT == S_IFLNK else { continue }
            throw .unsafePath(path, reason: "the \(what) is a symbolic link, which root does not follow in a directory "
                + "another user controls; replace it with a real \(what == "state directory" ? "directory" : "file") "
                + "and run the command again")
        }
    }
}
