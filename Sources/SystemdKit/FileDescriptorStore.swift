import CSystemd
import Glibc

/// The service manager's file descriptor store (`FileDescriptorStoreMax=`): a service parks
/// descriptors in it, and its next instance gets them back, under the names they were stored
/// with, in LISTEN_FDS/LISTEN_FDNAMES (see `SocketActivation.takeDescriptors`).
///
/// Every call is one `sd_pid_notify_with_fds` datagram; FDNAME applies to every fd of a
/// datagram, so fds that must be told apart are matched by what they are (a socket's inode),
/// not by name or order: the store keeps no order.
public enum FileDescriptorStore {
    /// The kernel passes at most 253 descriptors in one message (SCM_MAX_FD).
    static let batchSize = 250

    /// FDSTORE=1 under `name`. With `poll` false (FDPOLL=0) the manager keeps an fd even when
    /// it reports POLLHUP/POLLERR: a client that hangs up in the middle of a restart is seen
    /// by the next instance, which closes it, instead of vanishing from the store unannounced.
    /// Returns false when there is no NOTIFY_SOCKET.
    @discardableResult
    public static func store(_ fds: [Int32], name: String, poll: Bool = true) throws(SystemdError) -> Bool {
        for start in stride(from: 0, to: fds.count, by: batchSize) {
            let batch = Array(fds[start..<min(fds.count, start + batchSize)])
            let state = "FDSTORE=1\nFDNAME=\(name)" + (poll ? "" : "\nFDPOLL=0")
            let sent = try send(state, fds: batch)
            if !sent { return false }
        }
        return true
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
