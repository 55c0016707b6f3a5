import CSystemd
import Glibc

/// A listening socket inherited from the service manager; `name` is its `FileDescriptorName=`
/// (nil when the manager passed no LISTEN_FDNAMES at all).
public struct ActivatedSocket: Sendable, Equatable {
    public let fd: Int32
    public let name: String?

    public init(fd: Int32, name: String?) {
        self.fd = fd
        self.name = name
    }
}

/// What the service manager passed at start-up: the socket unit's listening sockets, and the
/// descriptors an earlier instance parked in the fd store (`FileDescriptorStore`).
public struct ActivatedDescriptors: Sendable, Equatable {
    public var listeners: [ActivatedSocket] = []
    /// Fds whose name is one of the `storedNames` asked for, in the order they were passed.
    public var stored: [ActivatedSocket] = []

    public init(listeners: [ActivatedSocket] = [], stored: [ActivatedSocket] = []) {
        self.listeners = listeners
        self.stored = stored
    }
}

public enum SocketActivation {
    /// sd_listen_fds_with_names(1, …): unsets LISTEN_* (incl. LISTEN_PIDFDID), checks LISTEN_PID,
    /// sets FD_CLOEXEC. Fds named one of `storedNames` are what this service stored itself, and
    /// are returned as they are; every other fd must be a listening SOCK_STREAM (sd_is_socket),
    /// else this throws a SystemdError naming the fd. Empty when not activated.
    ///
    /// Call it once, early, before any thread starts: the environment is process-wide, and a
    /// child that still saw LISTEN_* would try to adopt fds that are not its own.
    public static func takeDescriptors(storedNames: Set<String>) throws(SystemdError) -> ActivatedDescriptors {
        // libsystemd 252 predates LISTEN_PIDFDID and leaves it behind; a later manager sets it.
        defer { unsetenv("LISTEN_PIDFDID") }
        let namesGiven = getenv("LISTEN_FDNAMES") != nil
        var names: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = nil
        let count = try check("sd_listen_fds_with_names", sd_listen_fds_with_names(1, &names))
        let labels = takeStrings(names)

        var descriptors = ActivatedDescriptors()
        for index in 0..<Int(count) {
            let fd = SD_LISTEN_FDS_START + Int32(index)
            let name = namesGiven && index < labels.count ? labels[index] : nil
            if let name, storedNames.contains(name) {
                descriptors.stored.append(ActivatedSocket(fd: fd, name: name))
                continue
            }
            try requireListeningStream(fd: fd, name: name)
            descriptors.listeners.append(ActivatedSocket(fd: fd, name: name))
        }
        return descriptors
    }

    /// A `ListenDatagram=` or a socket unit with `Accept=yes` would otherwise surface much later
    /// as an accept() error; the errno says which of the three it is.
    static func requireListeningStream(fd: Int32, name: String?) throws(SystemdError) {
        let result = sd_is_socket(fd, AF_UNSPEC, Int32(SOCK_STREAM.rawValue), 1)
        if result > 0 { return }
        let label = "sd_is_socket(fd \(fd)\(name.map { " \"\($0)\"" } ?? ""))"
        if result < 0 { throw SystemdError(call: label, errno: result) }
        if sd_is_socket(fd, AF_UNSPEC, 0, -1) == 0 { throw SystemdError(call: label, errno: ENOTSOCK) }
        if sd_is_socket(fd, AF_UNSPEC, Int32(SOCK_STREAM.rawValue), -1) == 0 {
            throw SystemdError(call: label + ", not SOCK_STREAM", errno: ESOCKTNOSUPPORT)
        }
        throw SystemdError(call: label + ", not listening", errno: EINVAL)
    }

    /// Copies and frees a NULL-terminated `char **` allocated by libsystemd.
    private static func takeStrings(_ list: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> [String] {
        guard let list else { return [] }
        defer { free(list) }
        var strings: [String] = []
        var index = 0
        while let item = list[index] {
            strings.append(String(cString: item))
            free(item)
            index += 1
        }
        return strings
    }
}
