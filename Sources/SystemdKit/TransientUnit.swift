import CSystemd
import Glibc

/// A value of a unit property in `StartTransientUnit`'s `a(sv)`: only the
/// shapes the gateway's agent runs use.
public enum UnitPropertyValue: Sendable {
    case string(String)
    case bool(Bool)
    case uint64(UInt64)
    case uint32(UInt32)
    case strings([String])
    /// A file descriptor the manager receives a duplicate of (`StandardOutputFileDescriptor=`).
    case fd(Int32)
    /// `ExecStart=`: `a(sasb)`, one command (path, argv, ignore failure).
    case exec(path: String, argv: [String])
    /// `EnvironmentFiles=`: `a(sb)`, (path, ignore a missing file).
    case environmentFiles([(String, Bool)])

    var signature: String {
        switch self {
        case .string: "s"
        case .bool: "b"
        case .uint64: "t"
        case .uint32: "u"
        case .strings: "as"
        case .fd: "h"
        case .exec: "a(sasb)"
        case .environmentFiles: "a(sb)"
        }
    }

    func append(to m: OpaquePointer) throws(SystemdError) {
        switch self {
        case .string(let s): try BusArgument.string(s).append(to: m)
        case .bool(let b): try BusArgument.bool(b).append(to: m)
        case .uint32(let u): try BusArgument.uint32(u).append(to: m)
        case .strings(let list): try BusArgument.strings(list).append(to: m)
        case .uint64(let t):
            var v = t
            try check("sd_bus_message_append_basic", sd_bus_message_append_basic(m, CChar(UInt8(ascii: "t")), &v))
        case .fd(let fd):
            var v = fd
            try check("sd_bus_message_append_basic", sd_bus_message_append_basic(m, CChar(UInt8(ascii: "h")), &v))
        case .exec(let path, let argv):
            try open(m, "a", "(sasb)")
            try open(m, "r", "sasb")
            try BusArgument.string(path).append(to: m)
            try BusArgument.strings(argv).append(to: m)
            try BusArgument.bool(false).append(to: m)
            try close(m)
            try close(m)
        case .environmentFiles(let files):
            try open(m, "a", "(sb)")
            for (path, optional) in files {
                try open(m, "r", "sb")
                try BusArgument.string(path).append(to: m)
                try BusArgument.bool(optional).append(to: m)
                try close(m)
            }
            try close(m)
        }
    }
}

func open(_ m: OpaquePointer, _ type: Unicode.Scalar, _ contents: String) throws(SystemdError) {
    try check("sd_bus_message_open_container", sd_bus_message_open_container(m, CChar(UInt8(type.value)), contents))
}

func close(_ m: OpaquePointer) throws(SystemdError) {
    try check("sd_bus_message_close_container", sd_bus_message_close_container(m))
}

/// What the manager reports of a transient service while and after it runs.
public struct TransientServiceState: Sendable, Equatable {
    public var activeState: String
    public var subState: String
    /// "success", "exit-code", "signal", "timeout", "oom-kill", …
    public var result: String
    /// `CLD_EXITED` (1), `CLD_KILLED` (2), `CLD_DUMPED` (3), or 0 while it runs.
    public var execMainCode: Int32
    public var execMainStatus: Int32
    public var cpuUsageNSec: UInt64?
    public var memoryPeakBytes: UInt64?
    public var memoryCurrentBytes: UInt64?
    public var controlGroup: String
    public var mainPID: Int32

    /// The main process has ended (the unit stays `active (exited)` with `RemainAfterExit=`, or is `failed`).
    public var mainExited: Bool { execMainCode != 0 || activeState == "failed" || activeState == "inactive" }

    init(_ p: [String: BusValue]) {
        func counter(_ key: String) -> UInt64? {
            guard let v = p[key]?.uint64, v != UInt64.max else { return nil }  // UINT64_MAX: not known
            return v
        }
        activeState = p["ActiveState"]?.string ?? ""
        subState = p["SubState"]?.string ?? ""
        result = p["Result"]?.string ?? ""
        execMainCode = Int32(truncatingIfNeeded: p["ExecMainCode"]?.int64 ?? 0)
        execMainStatus = Int32(truncatingIfNeeded: p["ExecMainStatus"]?.int64 ?? 0)
        cpuUsageNSec = counter("CPUUsageNSec")
        memoryPeakBytes = counter("MemoryPeak")
        memoryCurrentBytes = counter("MemoryCurrent")
        controlGroup = p["ControlGroup"]?.string ?? ""
        mainPID = Int32(truncatingIfNeeded: p["MainPID"]?.int64 ?? 0)
    }
}

extension SystemdManager {
    /// `StartTransientUnit(name, "fail", properties, [])`: the manager creates
    /// and starts the unit; returns once the start job is queued.
    public func startTransientUnit(_ name: String, properties: [(String, UnitPropertyValue)]) throws(SystemdError) {
        try bus.call(destination: Self.destination, path: Self.objectPath, interface: Self.managerInterface,
                     member: "StartTransientUnit") { m throws(SystemdError) in
            try BusArgument.string(name).append(to: m)
            try BusArgument.string("fail").append(to: m)
            try open(m, "a", "(sv)")
            for (key, value) in properties {
                try open(m, "r", "sv")
                try BusArgument.string(key).append(to: m)
                try open(m, "v", value.signature)
                try value.append(to: m)
                try close(m)
                try close(m)
            }
            try close(m)
            try open(m, "a", "(sa(sv))")
            try close(m)
        }
    }

    /// The state of a service (one round trip: the Unit and Service interfaces' properties).
    public func transientServiceState(_ name: String) throws(SystemdError) -> TransientServiceState {
        let path = try Bus.encodePath(prefix: Self.unitPrefix, id: name)
        let props = "org.freedesktop.DBus.Properties"
        var all = try bus.call(destination: Self.destination, path: path, interface: props, member: "GetAll",
                               [.string("org.freedesktop.systemd1.Service")]).first?.dictionary ?? [:]
        for key in ["ActiveState", "SubState"] {
            all[key] = try bus.call(destination: Self.destination, path: path, interface: props, member: "Get",
                                    [.string("org.freedesktop.systemd1.Unit"), .string(key)]).first
        }
        return TransientServiceState(all)
    }

    /// Sends `signal` to the unit's processes (`who`: "all", "main", "control").
    public func killUnit(_ name: String, who: String = "all", signal: Int32) throws(SystemdError) {
        try bus.call(destination: Self.destination, path: Self.objectPath, interface: Self.managerInterface,
                     member: "KillUnit", [.string(name), .string(who), .int32(signal)])
    }

    /// Queues a stop job without waiting for it (SIGTERM, then SIGKILL after `TimeoutStopSec=`).
    public func stopUnitNoWait(_ name: String) throws(SystemdError) {
        try bus.call(destination: Self.destination, path: Self.objectPath, interface: Self.managerInterface,
                     member: "StopUnit", [.string(name), .string("replace")])
    }
}
