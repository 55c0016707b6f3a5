import Glibc
import OpenClawConfig

/// Start-up check of who else could touch the gateway's state: whoever can
/// write the state dir can plant symlinks for the ledger and edit the token;
/// whoever can read the token file can act as any client.
enum StateDirCheck {
    /// Throws when the state dir is writable by other users or owned by another
    /// user (the gateway would trust files they control); returns warnings for
    /// what is merely too open (a group-writable dir, a token file others can read).
    static func run(_ paths: OpenClawPaths) throws(ConfigError) -> [String] {
        var st = stat()
        guard stat(paths.stateDir, &st) == 0 else { return [] }  // created 0700 later
        let mode = st.st_mode & 0o7777
        if st.st_uid != geteuid() && st.st_uid != 0 {
            throw ConfigError("the state directory \(paths.stateDir) belongs to uid \(st.st_uid), not to the account "
                + "the gateway runs as (uid \(geteuid())): chown it to that account, or set OPENCLAW_STATE_DIR")
        }
        if mode & 0o002 != 0 {
            throw ConfigError("the state directory \(paths.stateDir) is writable by every user (mode "
                + "\(String(mode, radix: 8))), so anyone could replace the ledger or the token: run "
                + "`chmod 700 \(paths.stateDir)`")
        }
        var warnings: [String] = []
        if mode & 0o020 != 0 {
            warnings.append("the state directory \(paths.stateDir) is group-writable (mode \(String(mode, radix: 8))): "
                + "run `chmod 700 \(paths.stateDir)`")
        }
        var token = stat()
        if stat(paths.tokenFile, &token) == 0, token.st_mode & 0o077 != 0 {
            warnings.append("the token file \(paths.tokenFile) is readable by other users (mode "
                + "\(String(token.st_mode & 0o7777, radix: 8))): run `chmod 600 \(paths.tokenFile)` and consider "
                + "a new token (`openclaw gateway install --force --token …`)")
        }
        return warnings
    }
}
