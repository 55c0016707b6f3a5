/// What `systemctl status` shows about one unit, read from its D-Bus properties.
public struct UnitState: Sendable, Equatable {
    public var name: String
    public var description: String
    /// "loaded", "not-found", "bad-setting", "error", "masked".
    public var loadState: String
    /// "active", "reloading", "inactive", "failed", "activating", "deactivating".
    public var activeState: String
    public var subState: String
    /// "enabled", "disabled", "static", "linked", … ("" for transient units).
    public var unitFileState: String
    public var fragmentPath: String
    /// The unit file changed on disk since the manager last read it.
    public var needDaemonReload: Bool
    /// Wall-clock µs since the epoch when the unit last became active; nil if never.
    public var activeEnterTimestamp: UInt64?
    public var inactiveEnterTimestamp: UInt64?
    /// When the unit last left the inactive/failed state (the start of its latest run); nil if never.
    public var inactiveExitTimestamp: UInt64?
    /// The latest activation's id (32 hex digits; "" before the first start): the manager's lines about
    /// the unit carry it as INVOCATION_ID / USER_INVOCATION_ID, the service's own as _SYSTEMD_INVOCATION_ID.
    public var invocationID: String
    /// Service units: `Environment=` entries ("KEY=value"), and `LoadCredential=` as id → path.
    public var environment: [String]
    public var loadCredentials: [String: String]
    /// `Assert…=` lines that failed at the last start, as "AssertPathExists=/path".
    public var failedAsserts: [String]
    /// Service units only: nil when no main process runs.
    public var mainPID: UInt32?
    public var nRestarts: UInt32?
    /// The main process's last exit: `code` is a CLD_* value (1 exited, 2 killed, 3 dumped), `status` the exit status or signal.
    public var execMainCode: Int32?
    public var execMainStatus: Int32?
    /// "success", "exit-code", "signal", "core-dump", "watchdog", "timeout", "resources", …
    public var result: String
    /// The service's last `STATUS=` line.
    public var statusText: String
    /// Socket units only: (type, address) such as ("Stream", "127.0.0.1:18789").
    public var listen: [SocketListen]
    /// Service units only: each ExecStart= command line.
    public var execStart: [ExecCommand]
    /// Service units: `User=`; "" means the manager's own user.
    public var user: String
    public var workingDirectory: String
    /// `WatchdogSec=` in µs (0: none).
    public var watchdogUsec: UInt64
    /// Units this one activates (a socket's service) and units activating it.
    public var triggers: [String]
    public var triggeredBy: [String]

    public var isActive: Bool { activeState == "active" || activeState == "reloading" }

    /// Builds the state from a Properties.GetAll dictionary; missing properties read as empty.
    init(name: String, properties p: [String: BusValue]) {
        self.name = (p["Id"]?.string).flatMap { $0.isEmpty ? nil : $0 } ?? name
        description = p["Description"]?.string ?? ""
        loadState = p["LoadState"]?.string ?? ""
        activeState = p["ActiveState"]?.string ?? ""
        subState = p["SubState"]?.string ?? ""
        unitFileState = p["UnitFileState"]?.string ?? ""
        fragmentPath = p["FragmentPath"]?.string ?? ""
        needDaemonReload = p["NeedDaemonReload"]?.bool ?? false
        activeEnterTimestamp = (p["ActiveEnterTimestamp"]?.uint64).flatMap { $0 == 0 ? nil : $0 }
        inactiveEnterTimestamp = (p["InactiveEnterTimestamp"]?.uint64).flatMap { $0 == 0 ? nil : $0 }
        inactiveExitTimestamp = (p["InactiveExitTimestamp"]?.uint64).flatMap { $0 == 0 ? nil : $0 }
        let hex = Array("0123456789abcdef".utf8)
        let idBytes = (p["InvocationID"]?.array ?? []).compactMap { $0.int64.map { UInt8(truncatingIfNeeded: $0) } }
        invocationID = idBytes.allSatisfy({ $0 == 0 }) ? ""
            : String(decoding: idBytes.flatMap { [hex[Int($0 >> 4)], hex[Int($0 & 15)]] }, as: UTF8.self)
        environment = p["Environment"]?.strings ?? []
        var credentials: [String: String] = [:]
        for entry in p["LoadCredential"]?.array ?? [] {
            if let t = entry.tuple, t.count == 2, let id = t[0].string, let path = t[1].string { credentials[id] = path }
        }
        loadCredentials = credentials
        // Asserts is a(sbbsi): type, trigger, negate, parameter, state (< 0: failed).
        failedAsserts = (p["Asserts"]?.array ?? []).compactMap { entry in
            guard let t = entry.tuple, t.count == 5, let type = t[0].string, let negate = t[2].bool,
                  let parameter = t[3].string, let state = t[4].int64, state < 0 else { return nil }
            return "\(type)=\(negate ? "!" : "")\(parameter)"
        }
        mainPID = (p["MainPID"]?.int64).flatMap { $0 <= 0 ? nil : UInt32(truncatingIfNeeded: $0) }
        nRestarts = (p["NRestarts"]?.int64).map { UInt32(truncatingIfNeeded: $0) }
        execMainCode = (p["ExecMainCode"]?.int64).map { Int32(truncatingIfNeeded: $0) }
        execMainStatus = (p["ExecMainStatus"]?.int64).map { Int32(truncatingIfNeeded: $0) }
        result = p["Result"]?.string ?? ""
        statusText = p["StatusText"]?.string ?? ""
        listen = SocketListen.list(p["Listen"])
        execStart = ExecCommand.list(p["ExecStart"])
        user = p["User"]?.string ?? ""
        // A leading "!" marks "missing is fine" (`WorkingDirectory=-…` or `~`).
        let directory = p["WorkingDirectory"]?.string ?? ""
        workingDirectory = directory.hasPrefix("!") ? String(directory.dropFirst()) : directory
        watchdogUsec = p["WatchdogUSec"]?.uint64 ?? 0
        triggers = p["Triggers"]?.strings ?? []
        triggeredBy = p["TriggeredBy"]?.strings ?? []
    }

    public init(name: String) { self.init(name: name, properties: [:]) }
}

public struct SocketListen: Sendable, Equatable {
    /// "Stream", "Datagram", "SequentialPacket", "FIFO", …
    public var type: String
    public var address: String

    public init(type: String, address: String) {
        self.type = type
        self.address = address
    }

    /// From the `Listen` property, a(ss).
    static func list(_ value: BusValue?) -> [SocketListen] {
        (value?.array ?? []).compactMap { entry in
            guard let t = entry.tuple, t.count == 2, let type = t[0].string, let address = t[1].string else {
                return nil
            }
            return SocketListen(type: type, address: address)
        }
    }
}

public struct ExecCommand: Sendable, Equatable {
    public var path: String
    public var argv: [String]

    public init(path: String, argv: [String]) {
        self.path = path
        self.argv = argv
    }

    /// From an `ExecStart`-like property, a(sasbttttuii): path, argv, ignore-failure, timestamps, pid, code, status.
    static func list(_ value: BusValue?) -> [ExecCommand] {
        (value?.array ?? []).compactMap { entry in
            guard let t = entry.tuple, t.count >= 2, let path = t[0].string, let argv = t[1].strings else {
                return nil
            }
            return ExecCommand(path: path, argv: argv)
        }
    }
}

/// One row of ListUnits.
public struct UnitListEntry: Sendable, Equatable {
    public var name: String
    public var description: String
    public var loadState: String
    public var activeState: String
    public var subState: String

    public init(name: String, description: String, loadState: String, activeState: String, subState: String) {
        self.name = name
        self.description = description
        self.loadState = loadState
        self.activeState = activeState
        self.subState = subState
    }

    /// From a(ssssssouso): name, description, load, active, sub, following, path, job id, job type, job path.
    init?(_ value: BusValue) {
        guard let t = value.tuple, t.count >= 5, let name = t[0].string else { return nil }
        self.init(name: name, description: t[1].string ?? "", loadState: t[2].string ?? "",
                  activeState: t[3].string ?? "", subState: t[4].string ?? "")
    }
}
