import CSystemd
import Glibc

/// A connection to a D-Bus bus (the system bus, or the calling user's bus).
///
/// The one place in the project that holds `sd_bus *`. Everything above it
/// (the systemd and logind clients) speaks in Swift values; this class is not
/// thread-safe, which suits the synchronous CLI that owns it.
public final class Bus {
    let handle: OpaquePointer

    private init(handle: OpaquePointer) { self.handle = handle }

    deinit { sd_bus_flush_close_unref(handle) }

    /// The calling user's bus, where the user's systemd manager lives.
    ///
    /// Fails with `SystemdError.isManagerUnavailable` when there is none
    /// (sudo, su, ssh without a session, containers, WSL2 without systemd).
    public static func user() throws(SystemdError) -> Bus {
        var bus: OpaquePointer?
        try check(Bus.openUserCall, sd_bus_open_user(&bus))
        return Bus(handle: bus!)
    }

    public static func system() throws(SystemdError) -> Bus {
        var bus: OpaquePointer?
        try check(Bus.openSystemCall, sd_bus_open_system(&bus))
        return Bus(handle: bus!)
    }

    static let openUserCall = "sd_bus_open_user"
    static let openSystemCall = "sd_bus_open_system"

    /// Encodes an external id (a unit name) into an object path below `prefix`,
    /// with libsystemd's own escaping (PITFALLS: never by hand).
    public static func encodePath(prefix: String, id: String) throws(SystemdError) -> String {
        var out: UnsafeMutablePointer<CChar>?
        try check("sd_bus_path_encode", sd_bus_path_encode(prefix, id, &out))
        defer { free(out) }
        return String(cString: out!)
    }

    // MARK: calls

    /// Calls a method and returns its reply's arguments, decoded.
    @discardableResult
    func call(
        destination: String, path: String, interface: String, member: String,
        _ arguments: [BusArgument] = [], timeoutUsec: UInt64 = 0
    ) throws(SystemdError) -> [BusValue] {
        try call(destination: destination, path: path, interface: interface, member: member, timeoutUsec: timeoutUsec) {
            m throws(SystemdError) in
            for argument in arguments { try argument.append(to: m) }
        }
    }

    /// Calls a method whose arguments `build` appends (containers and variants too).
    @discardableResult
    func call(
        destination: String, path: String, interface: String, member: String, timeoutUsec: UInt64 = 0,
        build: (OpaquePointer) throws(SystemdError) -> Void
    ) throws(SystemdError) -> [BusValue] {
        var message: OpaquePointer?
        try check("sd_bus_message_new_method_call",
                  sd_bus_message_new_method_call(handle, &message, destination, path, interface, member))
        defer { sd_bus_message_unref(message) }
        try build(message!)

        var error = sd_bus_error(name: nil, message: nil, _need_free: 0)
        defer { sd_bus_error_free(&error) }
        var reply: OpaquePointer?
        let result = sd_bus_call(handle, message, timeoutUsec, &error, &reply)
        defer { sd_bus_message_unref(reply) }
        let callName = "\(interface.split(separator: ".").last ?? "").\(member)"
        if result < 0 {
            throw SystemdError(
                call: callName, errno: result,
                busErrorName: error.name.map { String(cString: $0) },
                busErrorMessage: error.message.map { String(cString: $0) })
        }
        return try BusValue.readAll(reply!, call: callName)
    }

    // MARK: signals

    /// Collects matching signals until the returned subscription is dropped.
    func subscribe(match: String) throws(SystemdError) -> SignalSubscription {
        let subscription = SignalSubscription()
        var slot: OpaquePointer?
        let userdata = Unmanaged.passUnretained(subscription).toOpaque()
        try check("sd_bus_add_match", sd_bus_add_match(handle, &slot, match, { message, userdata, _ in
            guard let message, let userdata else { return 0 }
            let box = Unmanaged<SignalSubscription>.fromOpaque(userdata).takeUnretainedValue()
            if let values = try? BusValue.readAll(message, call: "signal") { box.received.append(values) }
            return 0
        }, userdata))
        subscription.slot = slot
        return subscription
    }

    /// Dispatches queued messages, then blocks for more until `done` holds or
    /// the deadline (CLOCK_MONOTONIC µs) passes; returns whether `done` held.
    func process(until deadline: UInt64, _ done: () -> Bool) throws(SystemdError) -> Bool {
        while true {
            while try check("sd_bus_process", sd_bus_process(handle, nil)) > 0 {
                if done() { return true }
            }
            if done() { return true }
            let now = Bus.monotonicUsec()
            if now >= deadline { return false }
            try check("sd_bus_wait", sd_bus_wait(handle, deadline - now))
        }
    }

    static func monotonicUsec() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return UInt64(ts.tv_sec) * 1_000_000 + UInt64(ts.tv_nsec) / 1000
    }
}

/// Signals gathered by a match; the match is removed when this is released.
final class SignalSubscription {
    fileprivate(set) var received: [[BusValue]] = []
    fileprivate var slot: OpaquePointer?

    deinit { sd_bus_slot_unref(slot) }
}

extension SystemdError {
    /// True when the failure means "there is no systemd manager to talk to on
    /// that bus": no `XDG_RUNTIME_DIR`, no bus socket, a bus that refuses us
    /// (sudo keeps another user's runtime dir), or a bus without systemd on
    /// it. The caller knows which bus it asked, so it can name the way out.
    public var isManagerUnavailable: Bool {
        if call == Bus.openUserCall || call == Bus.openSystemCall { return true }
        switch busErrorName {
        case "org.freedesktop.DBus.Error.ServiceUnknown", "org.freedesktop.DBus.Error.NameHasNoOwner",
             "org.freedesktop.DBus.Error.Spawn.ChildExited", "org.freedesktop.systemd1.ShuttingDown":
            return true
        case let name? where !name.hasPrefix(Self.localErrorPrefix):
            return false
        default:
            // A local failure (sd-bus names these "System.Error.E…"): the
            // connection itself did not work out, e.g. root holding another
            // user's XDG_RUNTIME_DIR gets ENOTCONN on the first call.
            return [ENOTCONN, ECONNRESET, ECONNREFUSED, ENOENT, ENOMEDIUM, EHOSTDOWN].contains(errno)
        }
    }

    /// sd-bus's prefix for errors it synthesizes from an errno.
    static let localErrorPrefix = "System.Error."

    /// True when the bus peer refused for lack of privilege (polkit said no).
    public var isAccessDenied: Bool {
        busErrorName == "org.freedesktop.DBus.Error.AccessDenied"
            || busErrorName == "org.freedesktop.DBus.Error.InteractiveAuthorizationRequired"
            || ((busErrorName ?? Self.localErrorPrefix).hasPrefix(Self.localErrorPrefix)
                && (errno == EACCES || errno == EPERM))
    }
}

extension Bus {
    /// Bounds every method call on this connection (a hung peer must not hang a caller's event loop).
    public func setMethodCallTimeout(usec: UInt64) {
        sd_bus_set_method_call_timeout(handle, usec)
    }
}
