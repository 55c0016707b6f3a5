import Glibc

/// The token file, audited for `doctor` (and the drift that `status` warns about): one file holds
/// the secret the gateway checks (`target.tokenFile`, which the unit's `LoadCredential=` names),
/// nobody but its owner can read it, and for a system unit the service user can neither replace it
/// nor keep a second copy that disagrees with it.
extension GatewayService {
    func auditToken(credentialPath: String?, unitFilePath: String?) -> [Finding] {
        // A symlink here would send the gateway's credential (and root's fixes) elsewhere: never fixed by following it.
        let links = [target.paths.stateDir, target.paths.tokenFile].filter(Self.isSymlink)
        if !links.isEmpty {
            return links.map { path in
                Finding(path == target.paths.tokenFile ? "token-symlink" : "state-dir-symlink", .error,
                        "\(path) is a symbolic link: the token and state must be real files in a directory of their own",
                        fix: "replace it with a real \(path == target.paths.tokenFile ? "file (0600)" : "directory (0700)"), "
                            + "then run `\(target.command("doctor --fix"))`", fixable: false)
            }
        }
        var findings = tokenDrift(credentialPath: credentialPath, unitFilePath: unitFilePath)
        let file = target.tokenFile
        // An older system unit still loads the state dir's file: credential-unsafe's fix writes this one.
        let loadsOurs = credentialPath == nil || credentialPath == file
        if loadsOurs, FileIO.mode(file) == nil {
            findings.append(Finding("token-missing", .error, "no token at \(file): the socket refuses to start without it",
                                    fix: "generate one", fixable: true))
        } else if let mode = FileIO.mode(file) {
            let wrong = target.kind == .system ? CredentialStore.problem(file)
                : mode != 0o600 ? "\(file) has mode \(String(mode, radix: 8)), not 600" : nil
            if let wrong { findings.append(Finding("token-mode", .error, wrong, fix: "make it 0600, owned by its user", fixable: true)) }
        }
        if let dirMode = FileIO.mode(target.paths.stateDir), dirMode & 0o077 != 0 {
            findings.append(Finding("state-dir-mode", .warning,
                                    "\(target.paths.stateDir) has mode \(String(dirMode, radix: 8)), not 700",
                                    fix: "chmod 700", fixable: true))
        }
        return findings
    }

    /// A system unit whose credential the service user controls, or a second token file beside the
    /// one the gateway checks. Status warns with the same sentences; reading no file's contents, as
    /// root may not follow what the service user planted.
    func tokenDrift(credentialPath: String?, unitFilePath: String?) -> [Finding] {
        guard target.kind == .system else { return [] }
        var findings: [Finding] = []
        if let credentialPath, credentialPath != target.tokenFile {
            // A unit that `install` wrote is rewritten by the fix; the package's own is the package's to change.
            let ours = unitFilePath?.hasPrefix(target.unitDirectory + "/") ?? true
            findings.append(Finding(
                "credential-unsafe", .error,
                "\(target.serviceUnit) loads its token from \(credentialPath), which systemd reads as root at every "
                    + "start although \(target.userName) can replace it (a symlink there makes any file root can read "
                    + "the gateway's credential)",
                fix: ours ? "move the token to \(target.tokenFile) and reinstall the units"
                    : "upgrade the package (`apt install openclaw`): its unit loads \(target.tokenFile)",
                fixable: ours))
        }
        let copy = target.paths.tokenFile
        if credentialPath == target.tokenFile, FileIO.exists(copy) {
            findings.append(Finding(
                "token-stale-copy", .warning,
                "\(copy) is a second token file: the gateway checks \(target.tokenFile) (LoadCredential=), "
                    + "so whoever reads \(copy) may present another secret",
                fix: "remove \(copy)", fixable: true))
        }
        return findings
    }

    static func isSymlink(_ path: String) -> Bool {
        var st = stat()
        return lstat(path, &st) == 0 && st.st_mode & S_IFMT == S_IFLNK
    }
}
