import Glibc
import OpenClawConfig

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
    /// For `--system` the gateway runs as `userName` (default: the `User=`
    /// of the installed unit, else `SUDO_USER`, else the caller), and its
    /// state lives in *that* user's home, not root's, unless
    /// `OPENCLAW_STATE_DIR` says otherwise.
    /// `exec` defaults to the running binary (`/proc/self/exe`).
    public static func resolve(kind: ServiceKind, profile: String?, environment: [String: String],
                               userName: String? = nil, exec: String? = nil) throws(ServiceError) -> ServiceTarget {
        let account: passwd
        switch kind {
        case .user:
            guard let entry = getpwuid(geteuid())?.pointee else { throw .file("/etc/passwd", errno) }
            account = entry
        case .system:
            let name = userName ?? installedUser(profile: profile, environment: environment)
                ?? environment["SUDO_USER"].flatMap { $0.isEmpty ? nil : $0 }
            if let name {
                guard let entry = getpwnam(name)?.pointee else {
                    throw .config(ConfigError("no such user \"\(name)\" for --user-name"))
                }
                account = entry
            } else {
                guard let entry = getpwuid(geteuid())?.pointee else { throw .file("/etc/passwd", errno) }
                account = entry
            }
        }
        let home = String(cString: account.pw_dir)
        var env = environment
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

    /// `User=` of an already installed system unit of this profile, so that
    /// status/uninstall/doctor as root find the state of the account it runs as.
    private static func installedUser(profile: String?, environment: [String: String]) -> String? {
        guard let unit = try? OpenClawPaths.resolve(profile: profile, environment: environment).unitName,
              let text = try? FileIO.readText("/etc/systemd/system/\(unit).service") else { return nil }
        return UnitAudit.settings(text)["User"]?.last.flatMap { $0.isEmpty ? nil : $0 }
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
