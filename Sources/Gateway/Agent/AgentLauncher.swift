import Glibc
import JSONCore
import NetIO
import SystemdKit

/// Starts agent backends: as a transient unit of the systemd manager that runs
/// the gateway (`TransientUnitProcess`) when it takes one, else as a forked
/// process group (`ChildProcess`).
///
/// `agent.runner` picks: `auto` (the default) tries the unit and falls back to
/// forking, saying why once in the log and in `status`; `unit` fails a run the
/// manager refuses; `fork` never asks. Forking is what is left when there is
/// no manager to ask (run by hand, a container without systemd) or the
/// manager refuses (a system unit's unprivileged `User=` may not start units
/// without a polkit rule). A forked backend lives in the gateway's own
/// sandbox, which is why the system unit leaves `MemoryDenyWriteExecute=` off
/// (units/README.md).
///
/// API keys: `<stateDir>/agent.env` (`NAME=value` lines, mode 0600, owned by
/// the gateway's user). A unit reads it as `EnvironmentFile=` (the unit records
/// only the path); a forked backend gets its variables from the gateway. A file
/// others can read is not used (the log and `openclaw gateway doctor` say so).
final class AgentLauncher {
    enum Mode: String, Equatable {
        case auto, unit, fork
    }

    struct Spec {
        var runId: String
        var sessionKey: String?
        var argv: [String]
        var environment: [(String, String)]
        var timeoutMs: Int64
        var memoryMaxBytes: Int64?
        var cpuQuotaPercent: Int64?
    }

    enum LaunchError: Error, CustomStringConvertible {
        case system(SystemCallError)
        case manager(SystemdError)

        var description: String {
            switch self {
            case .system(let e): "\(e)"
            case .manager(let e): "systemd refused the run's transient unit: \(e)"
            }
        }
    }

    static let unitPrefix = "openclaw-agent-"

    private unowned let server: GatewayServer
    private var manager: SystemdManager?
    private var scope = ManagerScope.detect()
    /// Why runs are forked rather than units (logged when it changes); nil while units work.
    private(set) var forkReason: String?
    private var usedUnits = false

    init(server: GatewayServer) {
        self.server = server
    }

    var secretsPath: String { server.settings.paths.agentSecretsFile }

    func launch(_ spec: Spec, mode: Mode) throws(LaunchError) -> AgentProcess {
        if mode != .fork {
            do throws(LaunchError) {
                let process = try launchUnit(spec)
                usedUnits = true
                forkReason = nil
                return process
            } catch {
                if mode == .unit { throw error }
                let reason = "\(error)"
                if reason != forkReason {
                    server.log.notice("agent runs are forked processes in the gateway's own sandbox, not transient units: \(reason)")
                }
                forkReason = reason
            }
        }
        do throws(SystemCallError) {
            return try ChildProcess(loop: server.loop, argv: spec.argv, environment: secrets() + spec.environment)
        } catch {
            throw .system(error)
        }
    }

    /// For `status`: how runs start and why.
    var json: JSONValue {
        var o = JSONObject()
        o["runner"] = .string(usedUnits && forkReason == nil ? "unit" : forkReason == nil ? "auto" : "fork")
        o["manager"] = .string(scope.rawValue)
        if let forkReason { o["forkReason"] = .string(forkReason) }
        o["secretsFile"] = .string(secretsPath)
        return .object(o)
    }

    func journalHint(unit: String) -> String {
        scope == .user ? "journalctl --user -u \(unit)" : "journalctl -u \(unit)"
    }

    // MARK: units

    private func connect() throws(LaunchError) -> SystemdManager {
        if let manager { return manager }
        do throws(SystemdError) {
            let bus = scope == .user ? try Bus.user() : try Bus.system()
            // Calls run on the event loop: a manager that does not answer must not stall it for long.
            bus.setMethodCallTimeout(usec: 2_000_000)
            let m = SystemdManager(bus: bus)
            manager = m
            return m
        } catch {
            throw .manager(error)
        }
    }

    private func launchUnit(_ spec: Spec) throws(LaunchError) -> AgentProcess {
        let manager = try connect()
        var g = SystemRandomNumberGenerator()
        let name = Self.unitPrefix + String(g.next() as UInt64, radix: 16) + ".service"
        do throws(LaunchError) {
            return try TransientUnitProcess(loop: server.loop, log: server.log, manager: manager, name: name,
                                            properties: unitProperties(spec))
        } catch {
            if case .manager(let e) = error, e.isManagerUnavailable { self.manager = nil }  // reconnect next time
            throw error
        }
    }

    private func unitProperties(_ spec: Spec) -> [(String, UnitPropertyValue)] {
        let stateDir = server.settings.paths.stateDir
        var p: [(String, UnitPropertyValue)] = [
            ("Description", .string("OpenClaw agent run \(spec.runId)" + (spec.sessionKey.map { " (session \($0))" } ?? ""))),
            ("ExecStart", .exec(path: Self.resolve(spec.argv[0]), argv: spec.argv)),
            ("Type", .string("exec")),
            // Keeps the unit and its counters after the backend exits, until the gateway has read them.
            ("RemainAfterExit", .bool(true)),
            ("Environment", .strings(spec.environment.map { "\($0.0)=\($0.1)" })),
            ("WorkingDirectory", .string(stateDir)),
            ("StandardError", .string("journal")),
            ("SyslogIdentifier", .string("openclaw-agent")),
            ("CPUAccounting", .bool(true)),
            ("MemoryAccounting", .bool(true)),
            // A backstop: the gateway stops the run at its timeout itself.
            ("RuntimeMaxUSec", .uint64(UInt64(spec.timeoutMs + AgentRunner.killGraceMs * 2) * 1000)),
            ("TimeoutStopUSec", .uint64(UInt64(AgentRunner.killGraceMs) * 1000)),
            // A sandbox a JIT can live in: no MemoryDenyWriteExecute=, home writable for the backend's own state.
            ("NoNewPrivileges", .bool(true)),
            ("ProtectSystem", .string("full")),
            ("PrivateTmp", .bool(true)),
            ("RestrictSUIDSGID", .bool(true)),
            ("LockPersonality", .bool(true)),
            ("RestrictRealtime", .bool(true)),
            ("UMask", .uint32(0o077)),
        ]
        if secretsUsable() { p.append(("EnvironmentFiles", .environmentFiles([(secretsPath, true)]))) }
        if let bytes = spec.memoryMaxBytes { p.append(("MemoryMax", .uint64(UInt64(bytes)))) }
        if let percent = spec.cpuQuotaPercent { p.append(("CPUQuotaPerSecUSec", .uint64(UInt64(percent) * 10_000))) }
        // The run ends with the gateway, as a forked one does (a crashed gateway leaves no run behind).
        if let own = scope.ownUnit { p.append(("BindsTo", .strings([own]))) }
        return p
    }

    /// `ExecStart=` wants an absolute path: argv[0] looked up in the gateway's PATH.
    static func resolve(_ program: String) -> String {
        if program.hasPrefix("/") { return program }
        if program.contains("/") {
            guard let cwd = getcwd(nil, 0) else { return program }
            defer { free(cwd) }
            return String(cString: cwd) + "/" + program
        }
        let path = getenv("PATH").map { String(cString: $0) } ?? "/usr/local/bin:/usr/bin:/bin"
        for dir in path.split(separator: ":") where access("\(dir)/\(program)", X_OK) == 0 { return "\(dir)/\(program)" }
        return program
    }

    // MARK: secrets

    /// The secrets file is used only when it is private to the gateway's user.
    private func secretsUsable() -> Bool {
        var st = stat()
        guard stat(secretsPath, &st) == 0 else { return false }
        guard st.st_mode & 0o077 == 0, st.st_uid == getuid() else {
            server.log.error("\(secretsPath) is not used: it must be owned by the gateway's user with mode 0600 "
                + "(chmod 600 \(secretsPath); openclaw gateway doctor checks it)")
            return false
        }
        return true
    }

    /// `NAME=value` lines of the secrets file (blank lines and `#` comments skipped, one pair of quotes removed).
    private func secrets() -> [(String, String)] {
        guard secretsUsable(), let bytes = try? DurableFile.read(secretsPath) else { return [] }
        return Self.parseEnvironmentFile(String(decoding: bytes, as: UTF8.self))
    }

    static func parseEnvironmentFile(_ text: String) -> [(String, String)] {
        var out: [(String, String)] = []
        for raw in text.split(whereSeparator: { $0 == "\n" || $0 == "\r\n" }) {
            let line = raw.drop(while: { $0 == " " || $0 == "\t" })
            guard !line.hasPrefix("#"), let eq = line.firstIndex(of: "=") else { continue }
            let name = line[..<eq].trimmingCharacters(in: " \t")
            var value = Substring(line[line.index(after: eq)...].trimmingCharacters(in: " \t"))
            if value.count >= 2, let q = value.first, q == "\"" || q == "'", value.last == q { value = value.dropFirst().dropLast() }
            guard !name.isEmpty, name.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" }) else { continue }
            out.append((String(name), String(value)))
        }
        return out
    }
}

/// Which systemd manager runs the gateway, from its own cgroup.
enum ManagerScope: String {
    case user, system

    /// Under `user@UID.service`: the user's manager; anywhere else the system's.
    static func detect() -> ManagerScope {
        let cgroup = (try? DurableFile.read("/proc/self/cgroup")).map { String(decoding: $0, as: UTF8.self) } ?? ""
        return cgroup.contains("/user@") ? .user : .system
    }

    /// The gateway's own service unit (the last `.service` in its cgroup path), when it runs as one.
    var ownUnit: String? {
        let cgroup = (try? DurableFile.read("/proc/self/cgroup")).map { String(decoding: $0, as: UTF8.self) } ?? ""
        guard let line = cgroup.split(separator: "\n").first(where: { $0.hasPrefix("0::") }) else { return nil }
        return line.split(separator: "/").last(where: { $0.hasSuffix(".service") && !$0.hasPrefix("user@") }).map(String.init)
    }
}

private extension Substring {
    func trimmingCharacters(in set: String) -> Substring {
        var s = self
        while let f = s.first, set.contains(f) { s = s.dropFirst() }
        while let l = s.last, set.contains(l) { s = s.dropLast() }
        return s
    }
}
