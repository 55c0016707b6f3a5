/// logind (`org.freedesktop.login1`) on the system bus: what `loginctl
/// enable-linger` does, without running it (RUNBOOK U3, D4).
public final class LoginManager {
    public let bus: Bus

    /// logind lives on the system bus only.
    public init(bus: Bus) { self.bus = bus }

    private static let destination = "org.freedesktop.login1"

    /// Whether the user's manager keeps running without a session; nil when
    /// logind has no record of the user (never logged in and not lingering,
    /// which means linger is off).
    public func linger(uid: UInt32) throws(SystemdError) -> Bool? {
        let userPath: String
        do {
            guard let path = try bus.call(destination: Self.destination, path: "/org/freedesktop/login1",
                                          interface: "org.freedesktop.login1.Manager", member: "GetUser",
                                          [.uint32(uid)]).first?.string else { return nil }
            userPath = path
        } catch where error.busErrorName == "org.freedesktop.login1.NoSuchUser" {
            return nil
        }
        let reply = try bus.call(destination: Self.destination, path: userPath,
                                 interface: "org.freedesktop.DBus.Properties", member: "Get",
                                 [.string("org.freedesktop.login1.User"), .string("Linger")])
        return reply.first?.bool
    }

    /// SetUserLinger without interactive authorization: an unprivileged
    /// caller without a polkit rule gets `isAccessDenied`, and the CLI says
    /// what an administrator runs instead.
    public func setLinger(uid: UInt32, enabled: Bool) throws(SystemdError) {
        _ = try bus.call(destination: Self.destination, path: "/org/freedesktop/login1",
                         interface: "org.freedesktop.login1.Manager", member: "SetUserLinger",
                         [.uint32(uid), .bool(enabled), .bool(false)])
    }
}
