import Glibc
import JSONCore
import OpenClawConfig
import SystemdKit

public struct InstallOptions: Sendable {
    /// Rewrite the units and restart even when they already match (S13).
    public var force: Bool
    /// Overrides of the config file's gateway.port / gateway.bind.
    public var port: Int?
    public var bind: String?
    /// The secret to install; default: the existing token file, else the
    /// configured token, else a new random one.
    public var token: String?
    public var readyTimeoutMs: Int

    public init(force: Bool = false, port: Int? = nil, bind: String? = nil, token: String? = nil,
                readyTimeoutMs: Int = 30_000) {
        self.force = force
        self.port = port
        self.bind = bind
        self.token = token
        self.readyTimeoutMs = readyTimeoutMs
    }
}

/// What `install` did about lingering (RUNBOOK U3).
public enum LingerOutcome: Sendable, Equatable {
    /// System units need no linger.
    case notNeeded
    case alreadyOn
    case enabled
    /// logind refused (no polkit rule for unprivileged users): what an administrator runs.
    case refused(command: String)
    case failed(String)
}

public struct InstallResult: Sendable {
    public enum Outcome: String, Sendable { case installed, reinstalled, alreadyInstalled = "already-installed" }
    public var outcome: Outcome
    public var unitFiles: [String]
    public var tokenFile: String
    /// How the token was chosen: "given", "existing", "config", "generated".
    public var tokenSource: String
    public var linger: LingerOutcome
    /// The readiness probe after starting (nil when nothing was started).
    public var probe: ProbeResult?
}

public struct UninstallResult: Sendable {
    public var removedFiles: [String]
    /// Kept on purpose: state and token survive an uninstall; nil after `--purge`.
    public var keptStateDir: String?
}

extension GatewayService {
    /// The unit files `install` would write now, from `units/` and the config.
    public func renderedUnits(port: Int? = nil, bind: String? = nil) throws(ServiceError) -> [UnitRenderer.UnitFile] {
        let settings = try settings(port: port, bind: bind)
        return UnitRenderer.render(kind: target.kind, paths: target.paths, port: settings.port, bind: settings.bind,
                                   exec: target.exec, user: target.kind == .system ? target.userName : nil)
    }

    /// `openclaw gateway install`: render, write, linger, Reload, EnableUnitFiles,
    /// start the socket, wait for hello-ok. A no-op when already installed as
    /// configured, unless `force`.
    public func install(_ options: InstallOptions = InstallOptions()) throws(ServiceError) -> InstallResult {
        // Reach the manager first: without one (root with no user manager, no systemd at all)
        // install fails with that sentence and creates nothing, not even the lock's state dir.
        _ = try withManager { (m) throws(SystemdError) in try m.unit(target.socketUnit) }
        // Concurrent installs of one profile run one after the other, so each one's report
        // (token generated or existing, installed or already installed) is what it did.
        // As the service user (UserFiles): root never follows a symlink the user planted.
        let lock = try UserFiles(target).access { () throws(ServiceError) -> StateLock in
            try FileIO.makeDirectories(target.paths.stateDir, mode: 0o700)
            do throws(StateLock.Failure) {
                return try StateLock.acquire(target.paths.stateDir + "/install.lock", waitMs: 2 * options.readyTimeoutMs)
            } catch {
                throw .locked(error)
            }
        }
        return try withExtendedLifetime(lock) { () throws(ServiceError) in try installLocked(options) }
    }

    private func installLocked(_ options: InstallOptions) throws(ServiceError) -> InstallResult {
        let units = try renderedUnits(port: options.port, bind: options.bind)
        // Reach the manager before touching anything: no half-installs without systemd.
        let before = try withManager { (m) throws(SystemdError) in try m.unit(target.socketUnit) }
        let existing = try units.map { (u) throws(ServiceError) in try FileIO.readText(target.unitDirectory + "/" + u.fileName) }
        let unitsMatch = zip(units, existing).allSatisfy { $0.contents == $1 }
        let tokenPresent = FileIO.exists(target.tokenFile)
        let wasInstalled = existing.contains { $0 != nil }
        try requirePortFree(port: options.port, bind: options.bind, ours: before)
        let linger = try ensureLinger()
        try recordListenAddress(port: options.port, bind: options.bind)

        if unitsMatch && tokenPresent && options.token == nil && !options.force
            && before?.unitFileState == "enabled" && before?.isActive == true {
            return InstallResult(outcome: .alreadyInstalled, unitFiles: target.unitFilePaths,
                                 tokenFile: target.tokenFile, tokenSource: "existing", linger: linger, probe: nil)
        }

        do {
            return try write(units, existing: existing, options: options, before: before, linger: linger)
        } catch {
            // A fresh install that cannot start leaves nothing behind: no enabled unit that fails at every boot.
            guard !wasInstalled else { throw error }
            throw .installUndone(error, removed: undoInstall(removeToken: !tokenPresent))
        }
    }

    /// Refuses before anything is written when another listener holds the port: it names the
    /// holder (another profile's socket, a foreign unit, a process) instead of a failed socket later.
    private func requirePortFree(port: Int?, bind: String?, ours: UnitState?) throws(ServiceError) {
        let wanted = try settings(port: port, bind: bind).port
        let oursListens = ours?.isActive == true && ours?.listen.contains { $0.address.hasSuffix(":\(wanted)") } == true
        guard !oursListens, ListeningPorts.current().contains(wanted) else { return }
        throw .portTaken(port: wanted, holder: portHolder(wanted) ?? "another program (run as root to see which)",
                         retry: target.command("gateway install --port N"))
    }

    private func undoInstall(removeToken: Bool) -> [String] {
        _ = try? withManager { (m) throws(SystemdError) in
            _ = try? m.stopUnit(target.socketUnit, timeoutMs: 10_000)
            _ = try? m.stopUnit(target.serviceUnit, timeoutMs: 10_000)
            _ = try? m.disableUnitFiles([target.serviceUnit, target.socketUnit])
        }
        var removed = target.unitFilePaths.filter { (try? FileIO.remove($0)) == true }
        if removeToken, (try? FileIO.remove(target.tokenFile)) == true { removed.append(target.tokenFile) }
        _ = try? withManager { (m) throws(SystemdError) in
            try m.reload()
            try? m.resetFailedUnit(target.socketUnit)
            try? m.resetFailedUnit(target.serviceUnit)
        }
        return removed
    }

    private func write(_ units: [UnitRenderer.UnitFile], existing: [String?], options: InstallOptions, before: UnitState?,
                       linger: LingerOutcome) throws(ServiceError) -> InstallResult {
        let wasInstalled = existing.contains { $0 != nil }
        let tokenSource = try installToken(options.token)
        try FileIO.makeDirectories(target.unitDirectory, mode: 0o755)
        // Identical files keep their mtime: only what changed is written.
        for (unit, current) in zip(units, existing) where options.force || current != unit.contents {
            try FileIO.writeAtomically(target.unitDirectory + "/" + unit.fileName, Array(unit.contents.utf8), mode: 0o644)
        }
        try withManager { (m) throws(SystemdError) in
            try m.reload()
            try m.enableUnitFiles([target.serviceUnit, target.socketUnit])
            try? m.resetFailedUnit(target.socketUnit)
            try? m.resetFailedUnit(target.serviceUnit)
        }
        // A running gateway keeps its old socket and settings until restarted.
        if wasInstalled && before?.isActive == true {
            try job(.stop, target.serviceUnit, timeoutMs: options.readyTimeoutMs)
            try job(.restart, target.socketUnit, timeoutMs: options.readyTimeoutMs)
        } else {
            try job(.start, target.socketUnit, timeoutMs: options.readyTimeoutMs)
        }
        let probe = try waitUntilAnswering(timeoutMs: options.readyTimeoutMs)
        return InstallResult(outcome: wasInstalled ? .reinstalled : .installed, unitFiles: target.unitFilePaths,
                             tokenFile: target.tokenFile, tokenSource: tokenSource, linger: linger, probe: probe)
    }

    /// `--port`/`--bind` become part of the profile's `openclaw.json` (other keys
    /// kept), so the unit, `status`, `doctor` and the RPC commands all agree on
    /// where this gateway listens, and a later plain `install` changes nothing.
    func recordListenAddress(port: Int?, bind: String?) throws(ServiceError) {
        guard port != nil || bind != nil else { return }
        try editConfig { root in
            var gateway = root["gateway"]?.objectValue ?? JSONObject()
            if let port { gateway["port"] = .int(Int64(port)) }
            if let bind { gateway["bind"] = .string(bind) }
            root["gateway"] = .object(gateway)
        }
    }

    /// Changes the profile's `openclaw.json` (other keys kept; written only when something changed),
    /// 0600 and owned by the account the gateway runs as (as that account when root acts for it).
    func editConfig(_ change: (inout JSONObject) -> Void) throws(ServiceError) {
        try UserFiles(target).access { () throws(ServiceError) in try writeConfig(change) }
    }

    private func writeConfig(_ change: (inout JSONObject) -> Void) throws(ServiceError) {
        let path = target.paths.configPath
        var root: JSONObject
        do {
            root = try ConfigLoader.readConfigFile(path)?.objectValue ?? JSONObject()
        } catch {
            throw .config(error)
        }
        let before = root
        change(&root)
        guard root != before else { return }
        let owner = (uid: uid_t(target.uid), gid: gid_t(target.gid))
        try FileIO.makeDirectories(target.paths.stateDir, mode: 0o700, owner: owner)
        try FileIO.writeAtomically(path, Array((JSONValue.object(root).prettyPrinted() + "\n").utf8), mode: 0o600,
                                   owner: geteuid() == 0 ? owner : nil)
    }

    /// Puts the secret where the unit's `LoadCredential=` reads it (`target.tokenFile`): a user
    /// unit's 0600 in its 0700 state dir, owned by the user; a system unit's in /etc/credstore,
    /// root's alone (`CredentialStore`). The token never goes into the unit (PITFALLS: token drift).
    /// A system install from an earlier version kept its token in the state dir: that token moves
    /// (clients have it), read as the service user so a symlink there leads nowhere root could go.
    func installToken(_ given: String?) throws(ServiceError) -> String {
        let stateDirToken = try UserFiles(target).access { () throws(ServiceError) -> String? in
            try FileIO.makeDirectories(target.paths.stateDir, mode: 0o700, owner: (uid: uid_t(target.uid), gid: gid_t(target.gid)))
            return try FileIO.readText(target.paths.tokenFile).flatMap(Self.trimmed)
        }
        let existing = target.kind == .system ? try FileIO.readText(target.tokenFile).flatMap(Self.trimmed) : stateDirToken
        let (token, source): (String, String)
        if let given = given.flatMap(Self.trimmed) {
            (token, source) = (given, "given")
        } else if existing != nil {
            // Keep the bytes as they are; only tighten the permissions.
            try tightenToken()
            return "existing"
        } else if target.kind == .system, let stateDirToken {
            (token, source) = (stateDirToken, "migrated")
        } else if let configured = (try? settings()).flatMap({ $0.secretSource == "token-file" ? nil : $0.secret }) {
            (token, source) = (configured, "config")
        } else {
            (token, source) = (try Self.generateToken(), "generated")
        }
        try storeToken(token)
        return source
    }

    /// Writes `token` into the token file. For a system unit the state dir's old copy goes too,
    /// so that one file holds the secret (status and doctor name it; doctor reports a second one).
    func storeToken(_ token: String) throws(ServiceError) {
        guard target.kind == .system else {
            let owner = (uid: uid_t(target.uid), gid: gid_t(target.gid))
            try UserFiles(target).access { () throws(ServiceError) in
                try FileIO.writeAtomically(target.tokenFile, Array((token + "\n").utf8), mode: 0o600,
                                           owner: geteuid() == 0 ? owner : nil)
            }
            return
        }
        try CredentialStore.write(target.tokenFile, token: token)
        _ = try removeStateDirToken()
    }

    /// Removes a system unit's token copy from its state dir (as the service user); true when there was one.
    func removeStateDirToken() throws(ServiceError) -> Bool {
        try UserFiles(target).access { () throws(ServiceError) in try FileIO.remove(target.paths.tokenFile) }
    }

    private func tightenToken() throws(ServiceError) {
        guard target.kind == .system else {
            try UserFiles(target).access { () throws(ServiceError) in
                try FileIO.chmod(target.tokenFile, 0o600)
                if geteuid() == 0 { _ = chown(target.tokenFile, uid_t(target.uid), gid_t(target.gid)) }
            }
            return
        }
        try CredentialStore.tighten(target.tokenFile)
    }

    static func trimmed(_ s: String) -> String? {
        let t = s.split(whereSeparator: { $0 == "\n" || $0 == "\r" || $0 == " " || $0 == "\t" }).first.map(String.init)
        return t?.isEmpty == false ? t : nil
    }

    /// 32 random bytes from the kernel, hex-encoded.
    static func generateToken() throws(ServiceError) -> String {
        let source = "/dev/urandom"
        let fd = open(source, O_RDONLY | O_CLOEXEC)
        if fd < 0 { throw .file(source, errno) }
        defer { close(fd) }
        var bytes = [UInt8](repeating: 0, count: 32)
        var filled = 0
        while filled < bytes.count {
            let n = bytes.withUnsafeMutableBytes { read(fd, $0.baseAddress! + filled, $0.count - filled) }
            if n <= 0 {
                if n < 0 && errno == EINTR { continue }
                throw .file(source, n < 0 ? errno : EIO)
            }
            filled += n
        }
        let digits = Array("0123456789abcdef".utf8)
        return String(decoding: bytes.flatMap { [digits[Int($0 >> 4)], digits[Int($0 & 15)]] }, as: UTF8.self)
    }

    /// Reads logind's Linger first and only asks to change it when off: an
    /// unprivileged user usually may not (PITFALLS), and then the outcome
    /// names the command an administrator runs.
    func ensureLinger() throws(ServiceError) -> LingerOutcome {
        guard target.kind == .user else { return .notNeeded }
        do {
            let login = LoginManager(bus: try Bus.system())
            if try login.linger(uid: target.uid) == true { return .alreadyOn }
            do {
                try login.setLinger(uid: target.uid, enabled: true)
                return .enabled
            } catch where error.isAccessDenied {
                return .refused(command: "sudo loginctl enable-linger \(target.userName)")
            }
        } catch {
            return .failed(error.description)
        }
    }

    /// `openclaw gateway uninstall` (S11): stop, disable, remove the unit
    /// files, Reload. The state dir and token stay unless `purge`, which removes
    /// them only after the gateway has stopped.
    public func uninstall(purge: Bool = false, timeoutMs: Int = 30_000) throws(ServiceError) -> UninstallResult {
        let loaded = try withManager { (m) throws(SystemdError) in
            (try m.unit(target.socketUnit), try m.unit(target.serviceUnit))
        }
        // Never installed (at most the package's vendor units, which uninstall must not stop): say so.
        let installed = [loaded.0, loaded.1].contains { $0.map { ServiceSection.countsAsInstalled($0, directory: target.unitDirectory) } ?? false }
        if !installed && !target.unitFilePaths.contains(where: FileIO.exists) {
            throw .notInstalled(unit: target.serviceUnit, install: target.command("gateway install"))
        }
        if loaded.0 != nil { try job(.stop, target.socketUnit, timeoutMs: timeoutMs) }
        if loaded.1 != nil { try job(.stop, target.serviceUnit, timeoutMs: timeoutMs) }
        try withManager { (m) throws(SystemdError) in
            // Disabling units whose files are already gone fails; nothing to undo then.
            if loaded.0 != nil || loaded.1 != nil { try m.disableUnitFiles([target.serviceUnit, target.socketUnit]) }
        }
        var removed: [String] = []
        for path in target.unitFilePaths where try FileIO.remove(path) { removed.append(path) }
        try withManager { (m) throws(SystemdError) in
            try m.reload()
            try? m.resetFailedUnit(target.serviceUnit)
            try? m.resetFailedUnit(target.socketUnit)
        }
        if purge {
            // A gateway run by hand on this profile still holds gateway.lock: its state is in use.
            do {
                _ = try StateLock.acquire(target.paths.stateDir + "/gateway.lock")
            } catch {
                if case .held = error { throw .locked(error) }
            }
            if try UserFiles(target).access({ () throws(ServiceError) in try FileIO.removeTree(target.paths.stateDir) }) {
                removed.append(target.paths.stateDir)
            }
            // A system unit's secret is kept outside its state dir (CredentialStore).
            if target.kind == .system, try FileIO.remove(target.tokenFile) { removed.append(target.tokenFile) }
            return UninstallResult(removedFiles: removed, keptStateDir: nil)
        }
        return UninstallResult(removedFiles: removed, keptStateDir: target.paths.stateDir)
    }
}
