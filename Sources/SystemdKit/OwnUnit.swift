import CSystemd
import Glibc

/// The service unit this process runs in, asked about over D-Bus by the daemon itself.
///
/// A socket-activated gateway that gets SIGTERM cannot tell from the signal whether it is
/// being restarted or stopped for good. What decides it for a client is whether the
/// listening socket stays: `openclaw gateway stop`, `systemctl stop` of the socket and a
/// system shutdown queue a stop job on the socket unit too, while `restart` (and a stop of
/// the service alone, which the next connection undoes) leave the socket listening.
public enum OwnUnit {
    /// Whether every socket unit that activates this process's service stays listening
    /// (active, no stop job queued); nil when that cannot be asked: not in a service,
    /// no bus, or an answer outside `timeoutUsec`.
    public static func socketsStayListening(timeoutUsec: UInt64 = 1_000_000) -> Bool? {
        guard let (unit, user) = current() else { return nil }
        guard let bus = try? (user ? Bus.user() : Bus.system()) else { return nil }
        do {
            let sockets = try unitProperty(bus, unit, "TriggeredBy", timeoutUsec)?.strings ?? []
            if sockets.isEmpty { return nil }
            for socket in sockets where socket.hasSuffix(".socket") {
                let state = try unitProperty(bus, socket, "ActiveState", timeoutUsec)?.string
                guard state == "active" else { return false }
                // Job (uo): (0, "/") when no job is queued.
                guard let job = try unitProperty(bus, socket, "Job", timeoutUsec)?.tuple, job.count == 2,
                      let path = job[1].string else { return nil }
                if path == "/" { continue }
                let type = try bus.call(
                    destination: SystemdManager.destination, path: path, interface: propertiesInterface,
                    member: "Get", [.string("org.freedesktop.systemd1.Job"), .string("JobType")],
                    timeoutUsec: timeoutUsec
                ).first?.string
                if type == "stop" { return false }
            }
            return true
        } catch {
            return nil
        }
    }

    /// Room in the service's fd store for a restart hand-over: `FileDescriptorStoreMax=` minus
    /// what the store already holds, when the service itself has a `restart` job queued (so a
    /// new instance follows and gets the store; a plain stop would flush it and hang up on every
    /// parked client). Nil when no restart follows or it cannot be asked within `timeoutUsec`;
    /// 0 when the store is disabled (`FileDescriptorStoreMax=0`).
    public static func restartStoreCapacity(timeoutUsec: UInt64 = 1_000_000) -> Int? {
        guard let (unit, user) = current() else { return nil }
        guard let bus = try? (user ? Bus.user() : Bus.system()) else { return nil }
        do {
            guard let job = try unitProperty(bus, unit, "Job", timeoutUsec)?.tuple, job.count == 2,
                  let path = job[1].string, path != "/" else { return nil }
            let type = try bus.call(
                destination: SystemdManager.destination, path: path, interface: propertiesInterface,
                member: "Get", [.string("org.freedesktop.systemd1.Job"), .string("JobType")], timeoutUsec: timeoutUsec
            ).first?.string
            guard type == "restart" else { return nil }
            let service = "org.freedesktop.systemd1.Service"
            guard let max = try unitProperty(bus, unit, "FileDescriptorStoreMax", timeoutUsec, interface: service)?.int64
            else { return nil }
            let held = try unitProperty(bus, unit, "NFileDescriptorStore", timeoutUsec, interface: service)?.int64 ?? 0
            return Int(Swift.max(0, max - held))
        } catch {
            return nil
        }
    }

    /// The unit this process runs in, from /proc/self/cgroup. Not sd_pid_get_unit: libsystemd
    /// reads PID 1's cgroup first (to find the root), which a unit with ProtectProc=invisible
    /// (ours, as a system service) cannot see, so it failed there and stop looked like restart.
    static func current() -> (name: String, user: Bool)? {
        let fd = open("/proc/self/cgroup", O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while bytes.count < 1 << 16 {
            let n = read(fd, &chunk, chunk.count)
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { break }
            bytes += chunk[0..<n]
        }
        return unit(fromCgroup: String(decoding: bytes, as: UTF8.self))
    }

    /// The innermost `.service` or `.scope` of the systemd hierarchy's line (cgroup v2 `0::`,
    /// or v1's `name=systemd`), and whether a user manager (`user@UID.service`) contains it.
    static func unit(fromCgroup text: String) -> (name: String, user: Bool)? {
        for line in text.split(separator: "\n") {
            let fields = line.split(separator: ":", maxSplits: 2, omittingEmptySubsequences: false)
            guard fields.count == 3, fields[1].isEmpty || fields[1] == "name=systemd" else { continue }
            let parts = fields[2].split(separator: "/")
            guard let index = parts.lastIndex(where: { $0.hasSuffix(".service") || $0.hasSuffix(".scope") }) else {
                continue
            }
            let user = parts[..<index].contains { $0.hasPrefix("user@") && $0.hasSuffix(".service") }
            return (String(parts[index]), user)
        }
        return nil
    }

    private static let propertiesInterface = "org.freedesktop.DBus.Properties"

    private static func unitProperty(_ bus: Bus, _ unit: String, _ name: String, _ timeoutUsec: UInt64,
                                     interface: String = "org.freedesktop.systemd1.Unit") throws(SystemdError) -> BusValue?
    {
        let path = try Bus.encodePath(prefix: SystemdManager.unitPrefix, id: unit)
        return try bus.call(destination: SystemdManager.destination, path: path, interface: propertiesInterface,
                            member: "Get", [.string(interface), .string(name)],
                            timeoutUsec: timeoutUsec).first
    }
}
