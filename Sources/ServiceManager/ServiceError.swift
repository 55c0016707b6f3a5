import Glibc
import OpenClawConfig
import SystemdKit

/// Why a service command could not do its job, phrased for a person: the
/// CLI prints `description` as is (one sentence with the way out; never a raw errno).
public enum ServiceError: Error, Sendable, CustomStringConvertible {
    /// No systemd manager reachable for this scope; the text says why and what to do.
    case managerUnavailable(ServiceKind, String)
    case systemd(SystemdError)
    case config(ConfigError)
    /// A file operation failed: path and errno.
    case file(String, Int32)
    /// Root refused to follow a path the service user controls (a symlinked state dir or token file).
    case unsafePath(String, reason: String)
    /// A systemd job ended with something other than "done".
    /// `cause`: what the units and the journal say about why (nil when they say nothing);
    /// `status`: the status command for this profile and scope.
    case jobFailed(unit: String, result: String, cause: String?, status: String)
    /// The unit started but the gateway did not answer hello-ok in time.
    case notReady(url: String, error: String)
    /// `install`: the command that installs it (with the profile and scope in use).
    case notInstalled(unit: String, install: String)
    /// A lock in the state directory is held by another process (or cannot be taken).
    case locked(StateLock.Failure)
    /// The service is installed but not running (reload needs a running gateway).
    case notRunning(unit: String)
    /// The gateway answered but refused the secret we presented (`code`: its `AUTH_*` detail).
    case authRefused(url: String, code: String)
    /// `install` found the port taken before writing anything: who holds it, and the command to pick another.
    case portTaken(port: Int, holder: String, retry: String)
    /// A fresh install failed to start and was removed again (`removed`: the files deleted).
    indirect case installUndone(ServiceError, removed: [String])
    /// Someone else's gateway answers on the unit's address.
    case otherGateway(url: String, OtherGateway)

    public var description: String {
        switch self {
        case .managerUnavailable(_, let text): return text
        case .systemd(let e): return "systemd: \(e)"
        case .config(let e): return e.description
        case .file(let path, let code): return "\(path): \(String(cString: strerror(code)))"
        case .unsafePath(let path, let reason): return "refusing to use \(path): \(reason)"
        case .jobFailed(let unit, let result, let cause, let status):
            if let cause { return "\(unit) did not start (systemd: \(result)): \(cause); `\(status)` shows more" }
            return "systemd could not finish the job for \(unit) (result: \(result)); "
                + "`\(status)` shows the unit's last exit and error line"
        case .notReady(let url, let error):
            return "the gateway did not answer at \(url) in time (\(error)); see `openclaw gateway status`"
        case .notInstalled(let unit, let install): return "\(unit) is not installed; run `\(install)`"
        case .locked(.held(let path, let pid)):
            return "another `openclaw gateway install` of this profile" + (pid.map { " (pid \($0))" } ?? "")
                + " is still running and holds \(path); wait for it, then check with `openclaw gateway status`"
        case .locked(.system(let path, let code)): return "\(path): \(String(cString: strerror(code)))"
        case .notRunning(let unit):
            return "\(unit) is not running, so there is nothing to reload; `openclaw gateway start` starts it "
                + "with the current configuration"
        case .authRefused(let url, let code):
            return "the gateway at \(url) is up, but it refuses our secret (\(code)); `openclaw doctor` shows "
                + "which token the gateway checks and `openclaw doctor --fix` makes the CLI use it"
        case .portTaken(let port, let holder, let retry):
            return "port \(port) is already in use by \(holder): nothing was installed; stop it, or choose another "
                + "port (`\(retry)`)"
        case .installUndone(let error, let removed):
            return error.description.dropLastPeriod() + "; the install was undone"
                + (removed.isEmpty ? "" : " (removed \(removed.joined(separator: ", ")))")
        case .otherGateway(let url, let other):
            return "at \(url) \(other.sentence); stop that gateway or give this profile another port "
                + "(`openclaw gateway install --force --port N`)"
        }
    }
}

/// Environment facts that decide how to explain a missing manager; gathered
/// from the machine by `current`, injected by tests.
struct HostFacts: Sendable {
    var systemdIsPID1: Bool
    var isWSL: Bool
    var hasRuntimeDir: Bool
    var isRoot: Bool
    /// The caller's user manager runs (/run/user/UID/systemd exists) even if this shell lacks XDG_RUNTIME_DIR.
    var userManagerRuns = false
    var uid: UInt32 = 0

    static func current(environment: [String: String]) -> HostFacts {
        let version = (try? FileIO.read("/proc/version")).map { String(decoding: $0, as: UTF8.self).lowercased() } ?? ""
        let runtime = environment["XDG_RUNTIME_DIR"] ?? ""
        return HostFacts(systemdIsPID1: FileIO.exists("/run/systemd/system"),
                         isWSL: version.contains("microsoft") || FileIO.exists("/proc/sys/fs/binfmt_misc/WSLInterop"),
                         hasRuntimeDir: !runtime.isEmpty && FileIO.exists(runtime), isRoot: geteuid() == 0,
                         userManagerRuns: FileIO.exists("/run/user/\(geteuid())/systemd"), uid: geteuid())
    }

    /// One sentence: what is missing and the way out.
    func explainUnavailable(_ kind: ServiceKind) -> String {
        if !systemdIsPID1 && isWSL {
            return "systemd is not running in this WSL2 distribution: add \"[boot]\" and \"systemd=true\" to "
                + "/etc/wsl.conf, run `wsl --shutdown` from Windows, and open the distribution again"
        }
        if !systemdIsPID1 {
            return "systemd is not running on this machine (PID 1 is not systemd, as in most containers), "
                + "so there is no service manager to install the gateway into; run `openclaw gateway` "
                + "in the foreground instead"
        }
        if kind == .system {
            return "the systemd system manager is not reachable over D-Bus (is dbus running?)"
        }
        if !hasRuntimeDir && userManagerRuns {
            return "your systemd user manager runs, but XDG_RUNTIME_DIR is not set in this shell (as under sudo or "
                + "su): run `export XDG_RUNTIME_DIR=/run/user/\(uid)` and try again, or log in as the user directly"
        }
        if !hasRuntimeDir {
            return "no systemd user manager for this login (XDG_RUNTIME_DIR is unset or missing, as under sudo, "
                + "su or ssh without a session): log in as the user directly (or `machinectl shell USER@`), or use "
                + "`--system`\(isRoot ? "" : " as root") to install a system service"
        }
        return "the systemd user manager is not reachable on the user bus (another user's XDG_RUNTIME_DIR, "
            + "or no user session): log in as the user directly, or use `--system` to install a system service"
    }
}

extension String {
    /// Lets a sentence be extended with "; …" without a period in the middle.
    public func dropLastPeriod() -> String { hasSuffix(".") ? String(dropLast()) : self }
}
