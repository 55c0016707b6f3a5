import CSystemd
import Glibc

/// The service manager's file descriptor store (`FileDescriptorStoreMax=`): a service parks
/// descriptors in it, and its next instance gets them back, under the names they were stored
/// with, in LISTEN_FDS/LISTEN_FDNAMES (see `SocketActivation.takeDescriptors`).
///
/// Every call is one `sd_pid_notify_with_fds` datagram, and FDNAME applies to every fd of it.
/// Each stored fd costs the manager a comparison with every fd already stored (systemd 252
/// dedups with kcmp), so many descriptors should travel bundled (`NetIO.DescriptorBundle`).
public enum FileDescriptorStore {
    /// FDSTORE=1 under `name` (at most 253 fds, the kernel's SCM_MAX_FD). With `poll` false
    /// (FDPOLL=0) the manager keeps an fd even when it reports POLLHUP/POLLERR, instead of
    /// dropping it unannounced in the middle of a restart. Returns false when there is no
    /// NOTIFY_SOCKET.
    @discardableResult
    public static func store(_ fds: [Int32], name: String, poll: Bool = true) throws(SystemdError) -> Bool {
        guard fds.count <= 253 else { throw SystemdError(call: "sd_pid_notify_with_fds(\(fds.count) fds)", errno: EINVAL) }
        return try send("FDSTORE=1\nFDNAME=\(name)" + (poll ? "" : "\nFDPOLL=0"), fds: fds)
    }

    /// FDSTOREREMOVE=1: the manager closes its copies of every fd stored under `name`.
    @discardableResult
    public static func remove(name: String) throws(SystemdError) -> Bool {
        try send("FDSTOREREMOVE=1\nFDNAME=\(name)", fds: [])
    }

    /// sd_notify_barrier: returns once the manager has read every datagram sent before it, so
    /// a process may exit right after storing fds without racing their arrival.
    public static func barrier(timeoutUsec: UInt64) throws(SystemdError) {
        _ = try check("sd_notify_barrier", sd_notify_barrier(0, timeoutUsec))
    }

    private static func send(_ state: String, fds: [Int32]) throws(SystemdError) -> Bool {
        let result = state.withCString { text in
            fds.withUnsafeBufferPointer { sd_pid_notify_with_fds(0, 0, text, $0.baseAddress, UInt32($0.count)) }
        }
        return try check("sd_pid_notify_with_fds", result) > 0
    }
}
