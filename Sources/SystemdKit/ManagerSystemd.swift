import CSystemd
import Glibc

/// systemd's manager (`org.freedesktop.systemd1`) on one bus: the system
/// manager on the system bus, the user's manager on the user bus. Everything
/// `systemctl` would do for the CLI goes through here (RUNBOOK U4, D4).
public final class SystemdManager {
    public let bus: Bus

    /// The manager refuses a second Subscribe from one client, and drops the
    /// subscription itself when the connection closes.
    private var subscribed = false

    public init(bus: Bus) { self.bus = bus }

    static let destination = "org.freedesktop.systemd1"
    static let objectPath = "/org/freedesktop/systemd1"
    static let managerInterface = "org.freedesktop.systemd1.Manager"
    static let unitPrefix = "/org/freedesktop/systemd1/unit"

    @discardableResult
    private func manager(_ member: String, _ arguments: [BusArgument] = []) throws(SystemdError) -> [BusValue] {
        try bus.call(destination: Self.destination, path: Self.objectPath, interface: Self.managerInterface,
                     member: member, arguments)
    }

    /// `daemon-reload`: the manager re-reads unit files.
    public func reload() throws(SystemdError) { try manager("Reload") }

    /// Creates the `[Install]` symlinks; returns the changes as (type, link, target).
    @discardableResult
    public func enableUnitFiles(_ names: [String], runtime: Bool = false, force: Bool = true)
        throws(SystemdError) -> [UnitFileChange]
    {
        let reply = try manager("EnableUnitFiles", [.strings(names), .bool(runtime), .bool(force)])
        return UnitFileChange.list(reply.count > 1 ? reply[1] : nil)
    }

    @discardableResult
    public func disableUnitFiles(_ names: [String], runtime: Bool = false) throws(SystemdError) -> [UnitFileChange] {
        UnitFileChange.list(try manager("DisableUnitFiles", [.strings(names), .bool(runtime)]).first)
    }

    /// Starts a unit and waits for its job; returns the job result
    /// ("done", "failed", "timeout", "canceled", "dependency", "skipped").
    public func startUnit(_ name: String, timeoutMs: Int) throws(SystemdError) -> String {
        try runJob("StartUnit", name, timeoutMs: timeoutMs)
    }

    /// Stops a unit; "done" means it is inactive now.
    public func stopUnit(_ name: String, timeoutMs: Int) throws(SystemdError) -> String {
        try runJob("StopUnit", name, timeoutMs: timeoutMs)
    }

    public func restartUnit(_ name: String, timeoutMs: Int) throws(SystemdError) -> String {
        try runJob("RestartUnit", name, timeoutMs: timeoutMs)
    }

    /// Runs the unit's `ExecReload=`; "done" means the command succeeded, not that the
    /// daemon has applied anything (ask the daemon for that).
    public func reloadUnit(_ name: String, timeoutMs: Int) throws(SystemdError) -> String {
        try runJob("ReloadUnit", name, timeoutMs: timeoutMs)
    }

    /// Clears a unit's failed state and restart counter, so a start after a
    /// crash loop is not refused by the start rate limit.
    public func resetFailedUnit(_ name: String) throws(SystemdError) {
        try manager("ResetFailedUnit", [.string(name)])
    }

    /// Subscribes to JobRemoved *before* queueing the job (PITFALLS: a fast
    /// job can finish before a late subscriber hears of it), then waits for
    /// the signal naming our job's path.
    private func runJob(_ member: String, _ name: String, timeoutMs: Int) throws(SystemdError) -> String {
        let deadline = Bus.monotonicUsec() + UInt64(max(timeoutMs, 0)) * 1000
        let jobs = try bus.subscribe(match:
            "type='signal',sender='\(Self.destination)',path='\(Self.objectPath)',"
            + "interface='\(Self.managerInterface)',member='JobRemoved'")
        // Without a subscriber the manager may not emit job signals at all.
        if !subscribed {
            try manager("Subscribe")
            subscribed = true
        }
        guard let job = try manager(member, [.string(name), .string("replace")]).first?.string else {
            throw SystemdError(call: "Manager.\(member)", errno: EBADMSG)
        }
        var result: String?
        let finished = try bus.process(until: deadline) {
            // JobRemoved(u id, o job, s unit, s result)
            for signal in jobs.received where signal.count == 4 && signal[1].string == job {
                result = signal[3].string
                return true
            }
            return false
        }
        guard finished, let result else {
            throw SystemdError(call: "Manager.\(member)(\(name)) waiting for job", errno: ETIMEDOUT)
        }
        return result
    }

    /// The unit's state, loading it if needed; nil when no unit file or
    /// runtime unit of that name exists.
    public func unit(_ name: String) throws(SystemdError) -> UnitState? {
        let path = try Bus.encodePath(prefix: Self.unitPrefix, id: name)
        // An empty interface asks sd-bus for the properties of every interface
        // on the object (Unit plus Service or Socket) in one round trip.
        let reply = try bus.call(destination: Self.destination, path: path,
                                 interface: "org.freedesktop.DBus.Properties", member: "GetAll", [.string("")])
        let state = UnitState(name: name, properties: reply.first?.dictionary ?? [:])
        return state.loadState == "not-found" && state.fragmentPath.isEmpty ? nil : state
    }

    /// A service's ExecStart= lines alone: one small property read instead
    /// of every property, for scans over all units.
    public func execStart(ofService name: String) throws(SystemdError) -> [ExecCommand] {
        ExecCommand.list(try property(name, "org.freedesktop.systemd1.Service", "ExecStart"))
    }

    /// A socket's listen addresses alone (see `execStart(ofService:)`).
    public func listen(ofSocket name: String) throws(SystemdError) -> [SocketListen] {
        SocketListen.list(try property(name, "org.freedesktop.systemd1.Socket", "Listen"))
    }

    private func property(_ unit: String, _ interface: String, _ name: String) throws(SystemdError) -> BusValue? {
        let path = try Bus.encodePath(prefix: Self.unitPrefix, id: unit)
        return try bus.call(destination: Self.destination, path: path, interface: "org.freedesktop.DBus.Properties",
                            member: "Get", [.string(interface), .string(name)]).first
    }

    /// Units the manager has loaded (`systemctl list-units --all`).
    public func listUnits() throws(SystemdError) -> [UnitListEntry] {
        (try manager("ListUnits").first?.array ?? []).compactMap(UnitListEntry.init)
    }

    /// Loaded units whose names match the globs (ListUnitsByPatterns): the manager filters, so a
    /// cheap scan does not decode every unit of a busy system manager.
    public func listUnits(patterns: [String]) throws(SystemdError) -> [UnitListEntry] {
        (try manager("ListUnitsByPatterns", [.strings([]), .strings(patterns)]).first?.array ?? [])
            .compactMap(UnitListEntry.init)
    }

    /// Installed unit files and their enablement state, loaded or not.
    /// With `patterns` (shell globs on the file name) the manager skips
    /// computing the state of every other file, which is most of the cost
    /// (about 0.5 s on a plain Debian system manager, against milliseconds).
    public func listUnitFiles(patterns: [String] = []) throws(SystemdError) -> [(path: String, state: String)] {
        let reply = patterns.isEmpty
            ? try manager("ListUnitFiles")
            : try manager("ListUnitFilesByPatterns", [.strings([]), .strings(patterns)])
        return (reply.first?.array ?? []).compactMap { entry in
            guard let pair = entry.tuple, pair.count == 2, let path = pair[0].string,
                  let state = pair[1].string else { return nil }
            return (path, state)
        }
    }
}

/// One symlink change reported by Enable/DisableUnitFiles.
public struct UnitFileChange: Sendable, Equatable {
    /// "symlink", "unlink", …
    public var type: String
    public var path: String
    public var target: String

    static func list(_ value: BusValue?) -> [UnitFileChange] {
        (value?.array ?? []).compactMap { entry in
            guard let t = entry.tuple, t.count == 3, let type = t[0].string, let path = t[1].string,
                  let target = t[2].string else { return nil }
            return UnitFileChange(type: type, path: path, target: target)
        }
    }
}
