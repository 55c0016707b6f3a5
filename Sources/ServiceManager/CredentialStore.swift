import Glibc

/// Where a system unit's secret lives: root's own copy in `/etc/credstore`.
///
/// systemd reads `LoadCredential=` as root at every start and follows symlinks. A token file in
/// the service user's state dir let that user swap it for `gateway.token -> /etc/shadow` and get
/// any root-readable file as the gateway's credential (docs/security.md). The file here is in a
/// root-owned directory the service user cannot write, created by root without following
/// symlinks, 0600 root; the unit names it by absolute path (readable back over D-Bus, and not
/// relying on the credstore search of newer systemd). User units keep the state dir's file:
/// their manager reads it with the user's own rights.
enum CredentialStore {
    static let directory = "/etc/credstore"

    /// `/etc/credstore/openclaw-gateway.token`, one per profile's unit.
    static func file(unit: String) -> String { directory + "/" + unit + ".token" }

    /// Writes the secret as root: the directory must be root's alone, the file is replaced atomically
    /// (a temp file opened with O_NOFOLLOW, then rename), 0600 root:root from the start.
    static func write(_ path: String, token: String) throws(ServiceError) {
        try requireRootDirectory()
        try FileIO.writeAtomically(path, Array((token + "\n").utf8), mode: 0o600, owner: (uid: 0, gid: 0))
    }

    /// Keeps an existing secret's bytes, tightening its mode and owner without following a symlink.
    static func tighten(_ path: String) throws(ServiceError) {
        try requireRootDirectory()
        let fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)
        if fd < 0 { throw .file(path, errno) }
        defer { close(fd) }
        if fchmod(fd, 0o600) != 0 || fchown(fd, 0, 0) != 0 { throw .file(path, errno) }
    }

    /// What is wrong with the secret's file (missing directory or file aside), in one sentence, or nil.
    static func problem(_ path: String) -> String? {
        if let why = directoryProblem() { return why }
        var st = stat()
        guard lstat(path, &st) == 0 else { return nil }
        if st.st_mode & S_IFMT != S_IFREG { return "\(path) is not a regular file" }
        if st.st_uid != 0 || st.st_mode & 0o077 != 0 {
            return "\(path) has owner uid \(st.st_uid) and mode \(String(st.st_mode & 0o7777, radix: 8)), not root and 600"
        }
        return nil
    }

    /// Creates the directory (0700 root) when missing; refuses one that someone else could write.
    private static func requireRootDirectory() throws(ServiceError) {
        if mkdir(directory, 0o700) != 0 && errno != EEXIST { throw .file(directory, errno) }
        if let why = directoryProblem() {
            throw .unsafePath(directory, reason: why + ": the gateway's secret must be root's alone; "
                + "make it a directory owned by root with mode 0700 and run the command again")
        }
    }

    private static func directoryProblem() -> String? {
        var st = stat()
        guard lstat(directory, &st) == 0 else { return nil }
        if st.st_mode & S_IFMT != S_IFDIR { return "\(directory) is not a directory" }
        if st.st_uid != 0 || st.st_mode & 0o022 != 0 {
            return "\(directory) has owner uid \(st.st_uid) and mode \(String(st.st_mode & 0o7777, radix: 8)): "
                + "others than root may write into it"
        }
        return nil
    }
}
