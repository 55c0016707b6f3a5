import Glibc
import OpenClawConfig
import SystemdKit

/// Everything that says *which* gateway service a command acts on: the
/// manager (user or system), the profile's paths, where unit files go, the
/// binary the unit runs and the account it runs as.
public struct ServiceTarget: Sendable, Equatable {
    public var kind: ServiceKind
    public var paths: OpenClawPaths
    /// `~/.config/systemd/user` or `/etc/systemd/system`.
    public var unitDirectory: String
    /// Absolute path of the `openclaw` binary for ExecStart=.
    public var exec: String
    /// The account the gateway runs as (`User=` for system units; the caller for user units).
    public var userName: String
    public var uid: UInt32
    public var gid: UInt32

    public var socketUnit: String { paths.unitName + ".socket" }
    public var serviceUnit: String { paths.unitName + ".service" }
    public var unitFilePaths: [String] { [socketUnit, serviceUnit].map { unitDirectory + "/" + $0 } }
    /// The one file holding the secret the gateway checks: the unit's `LoadCredential=`.
    public var tokenFile: String { Self.tokenFile(kind: kind, paths: paths) }

    /// A user unit's token lives in its state dir (its manager reads it with the user's rights);
    /// a system unit's in /etc/credstore, which the service user cannot write (`CredentialStore`).
    static func tokenFile(kind: ServiceKind, paths: OpenClawPaths) -> String {
        kind == .system ? CredentialStore.file(unit: paths.unitName) : paths.tokenFile
    }

    /// A command line for hints, with the `--profile` and `--system` in use:
    /// `command("gateway install")` → "openclaw --profile work gateway install --system".
    public func command(_ verb: String) -> String {
        "openclaw " + (paths.profile.map { "--profile \($0) " } ?? "") + verb + (kind == .system ? " --system" : "")
    }

    public init(kind: ServiceKind, paths: OpenClawPaths, unitDirectory: String, exec: String, userName: String,
                uid: UInt32, gid: UInt32) {
        self.kind = kind
        self.paths = paths
        self.unitDirectory = unitDirectory
        self.exec = exec
        self.userName = userName
        self.uid = uid
        self.gid = gid
    }

    /// Resolves the target the way every command does.
    ///
    /// For `--system` the installed unit is the truth, read from the system
    /// manager over D-Bus (the packaged unit lives in /usr/lib/systemd, not
    /// where `install` writes): the gateway runs as its `User=` and keeps its
    /// state where its `OPENCLAW_STATE_DIR=` (else `WorkingDirectory=`) says,
    /// so root never looks in its own home for the packaged gateway's token.
    /// Without an installed unit the account is `userName`, else `SUDO_USER`,
    /// else the caller; `installing` instead takes the package's `openclaw`
    /// account and refuses when there is none, so a root gateway only comes
    /// from an explicit `--user-name root`. The caller's `OPENCLAW_STATE_DIR`
    /// still wins. `exec` defaults to the running binary (`/proc/self/exe`).
    public static func resolve(kind: ServiceKind, profile: String?, environment: [String: String],
                               userName: String? = nil, exec: String? = nil,
                               installing: Bool = false) throws(ServiceError) -> ServiceTarget {
        let account: passwd
        var env = environment
        switch kind {
        case .user:
            guard let entry = getpwuid(geteuid())?.pointee else { throw .file("/etc/passwd", errno) }
            account = entry
        case .system:
            let installed = installedUnit(profile: profile, environment: environment)
            let name = userName ?? installed.flatMap { $0.user.isEmpty ? nil : $0.user }
                ?? (installing ? packageAccount : environment["SUDO_USER"].flatMap { $0.isEmpty ? nil : $0 })
            if let name {
                guard let entry = getpwnam(name)?.pointee else {
                    if installing && userName == nil {
                        throw .config(ConfigError("no --user-name given and there is no \"\(packageAccount)\" account "
                            + "(the package creates it): pass --user-name NAME for the account the gateway runs as "
                            + "(--user-name root for a gateway running as root)"))
                    }
                    throw .config(ConfigError("no such user \"\(name)\" for --user-name"))
                }
                account = entry
            } else {
                guard let entry = getpwuid(geteuid())?.pointee else { throw .file("/etc/passwd", errno) }
                account = entry
            }
            if (env["OPENCLAW_STATE_DIR"] ?? "").isEmpty, let installed, userName == nil || userName == installed.user,
               let dir = installed.stateDirectory {
                env["OPENCLAW_STATE_DIR"] = dir
            } else if (env["OPENCLAW_STATE_DIR"] ?? "").isEmpty, profile == nil,
                      String(cString: account.pw_name) == packageAccount {
                // The package's account keeps the default profile's state in its home, /var/lib/openclaw.
                env["OPENCLAW_STATE_DIR"] = String(cString: account.pw_dir)
            }
        }
        let home = String(cString: account.pw_dir)
        if kind == .system { env["HOME"] = home }
        let paths: OpenClawPaths
        do { paths = try OpenClawPaths.resolve(profile: profile, environment: env) } catch { throw .config(error) }

        let unitDirectory: String
        switch kind {
        case .system:
            unitDirectory = "/etc/systemd/system"
        case .user:
            let config = environment["XDG_CONFIG_HOME"].flatMap { $0.hasPrefix("/") ? $0 : nil }
                ?? (environment["HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? home) + "/.config"
            unitDirectory = config + "/systemd/user"
        }
        let program: String
        if let exec { program = exec } else { program = try runningExecutable() }
        return ServiceTarget(kind: kind, paths: paths, unitDirectory: unitDirectory, exec: program, userName: String(cString: account.pw_name),
                             uid: account.pw_uid, gid: account.pw_gid)
    }

    /// The account the Debian package creates (sysusers.d) and its system unit runs as.
    static let packageAccount = "openclaw"

    /// The system manager's view of this profile's service: its `User=` and state directory.
    private static func installedUnit(profile: String?, environment: [String: String]) -> (user: String, stateDirectory: String?)? {
        guard let unit = try? OpenClawPaths.resolve(profile: profile, environment: environment).unitName,
              let bus = try? Bus.system(), let state = try? SystemdManager(bus: bus).unit(unit + ".service"),
              !state.fragmentPath.isEmpty
        else { return nil }
        let fromEnvironment = state.environment.last { $0.hasPrefix("OPENCLAW_STATE_DIR=") }
            .map { String($0.dropFirst("OPENCLAW_STATE_DIR=".count)) }
        let directory = fromEnvironment ?? (state.workingDirectory.hasPrefix("/") ? state.workingDirectory : nil)
        return (state.user, directory.flatMap { $0.isEmpty ? nil : $0 })
    }

    static func runningExecutable() throws(ServiceError) -> String {
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let n = readlink("/proc/self/exe", &buffer, buffer.count - 1)
        if n < 0 { throw .file("/proc/self/exe", errno) }
        return String(decoding: buffer[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// The same profile on the other manager (status looks there before
    /// calling a service "not installed").
    func other(environment: [String: String]) throws(ServiceError) -> ServiceTarget {
        try ServiceTarget.resolve(kind: kind == .user ? .system : .user, profile: paths.profile,
                                  environment: environment, exec: exec)
    }
}
