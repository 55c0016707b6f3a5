import Glibc
import GatewayProtocol
import JSONCore
import NetIO
import SystemdKit

/// Names of what the gateway parks in systemd's fd store (FDNAME=): the client sockets travel in
/// one `DescriptorBundle` (systemd's store costs PID 1 O(n²) system calls in the number of fds)
/// and are matched to their state by socket identity (`FileIdentity`), not by order.
enum HandoverStore {
    static let clientName = "openclaw-clients"
    static let stateName = "openclaw-handover"
    static let names: Set<String> = [clientName, stateName]
    /// How long the manager may take to read the datagrams before the process exits.
    static let barrierUsec: UInt64 = 5_000_000
    /// Why a stored client is closed when its state did not survive (a crash mid-hand-over).
    static let stateLost = "gateway restarted; connection state lost"

    /// Removes everything the gateway parked in the store, so nothing stays parked after a
    /// take-over, a failed hand-over or a failed start. Returns what could not be removed.
    @discardableResult
    static func empty() -> [(name: String, error: any Error)] {
        var failures: [(name: String, error: any Error)] = []
        for name in [clientName, stateName] {
            do { try FileDescriptorStore.remove(name: name) } catch { failures.append((name, error)) }
        }
        return failures
    }
}

/// The old process's half of a restart hand-over (docs/handover.md).
extension GatewayServer {
    /// On SIGTERM with a `restart` job queued and room in the fd store: stops serving, lets the
    /// work in flight fail with its answers queued to the clients (agent runs, sends; see the
    /// docs), stores every client socket, then the state in a memfd (last: it commits the
    /// hand-over), waits for the manager to have read it all, and stops. Returns false, with
    /// every client still here, when there is nothing to hand over or no room, or storing fails.
    func handOverToNextInstance(signal: Int32) -> Bool {
        guard getenv("NOTIFY_SOCKET") != nil, !connections.isEmpty else { return false }
        guard let capacity = OwnUnit.restartStoreCapacity() else {
            log.info("no hand-over: no restart job is queued on the service (or systemd could not be asked in time)")
            return false
        }
        // Clients past hello-ok first, in join order (the new instance keeps it), then the others.
        let candidates = presence.order.filter { !$0.leftPresence && $0.phase == .ready }
            + connections.values.filter(\.isPending)
        guard !candidates.isEmpty else { return false }
        guard capacity >= 2 else {
            log.notice("restart without hand-over: the fd store has no room (FileDescriptorStoreMax=\(capacity) free, 2 needed); "
                       + "clients are closed with 1012")
            return false
        }
        ServiceNotifier.stopping(status: "handing over \(candidates.count) client connection(s) to the next instance")
        log.notice("handing over \(candidates.count) client connection(s) to the next instance",
                   fields: [("OPENCLAW_HANDOVER", "out"), ("OPENCLAW_CLIENTS", String(candidates.count)),
                            ("OPENCLAW_SIGNAL", String(signal))])
        channels.stop()
        var fds: [Int32] = []
        var records: [HandoverConnection] = []
        for connection in candidates {
            guard let (fd, record) = connection.detachForHandover() else { continue }
            connections[connection.id] = nil
            if record.phase == .ready { presence.leave(connection) }
            fds.append(fd)
            records.append(record)
        }
        let state = HandoverState(fromPid: getpid(), handedAtMs: EventLoop.wallClockMs(), nextConnId: nextConnId,
                                  presenceVersion: stateVersion.presence, healthVersion: stateVersion.health,
                                  connections: records)
        let stateBytes: Int
        do {
            stateBytes = try Self.store(fds: fds, state: state)
        } catch {
            log.error("hand-over failed: \(error); closing the clients with 1012 instead",
                      fields: [("OPENCLAW_HANDOVER", "failed")])
            HandoverStore.empty()
            adopt(records, fds: fds)
            return false
        }
        for fd in fds { close(fd) }  // the manager holds them now
        log.notice("hand-over stored \(fds.count) client connection(s) and the state (\(stateBytes) bytes) in the fd store",
                   fields: [("OPENCLAW_HANDOVER", "out"), ("OPENCLAW_CLIENTS", String(fds.count))])
        drainThenStop()  // connections that were already closing finish here
        return true
    }

    /// Client sockets first (one bundle), then the state: a crash in between leaves sockets
    /// without state, which the next instance closes with 1012. Returns the state's size.
    private static func store(fds: [Int32], state: HandoverState) throws -> Int {
        struct NoNotifySocket: Error, CustomStringConvertible {
            var description: String { "NOTIFY_SOCKET is gone" }
        }
        let bundle = try DescriptorBundle.pack(fds)
        defer { close(bundle) }
        guard try FileDescriptorStore.store([bundle], name: HandoverStore.clientName, poll: false) else { throw NoNotifySocket() }
        let bytes = state.encoded()
        let memfd = try MemoryFile.create(name: HandoverStore.stateName, bytes: bytes)
        defer { close(memfd) }
        guard try FileDescriptorStore.store([memfd], name: HandoverStore.stateName, poll: false) else { throw NoNotifySocket() }
        try FileDescriptorStore.barrier(timeoutUsec: HandoverStore.barrierUsec)
        return bytes.count
    }

    /// Puts connections described by hand-over records back on this loop (taken over from the
    /// previous instance, or kept after a failed hand-over). Returns how many could not be:
    /// their sockets are closed.
    @discardableResult
    func adopt(_ records: [HandoverConnection], fds: [Int32]) -> Int {
        var failed = 0
        for (record, fd) in zip(records, fds) {
            do {
                let connection = try Connection.restored(record, fd: fd, server: self)
                // Registered and in presence (by what the record says, once) before its input is
                // replayed: a replayed frame is dispatched for a known connection, and a replayed
                // `connect` joins through the handshake like any other.
                register(connection)
                if record.phase == .ready { presence.join(connection) }
                connection.replay(record.input)
            } catch {
                log.warning("cannot carry on connection \(record.id): \(error)")
                close(fd)
                failed += 1
            }
        }
        return failed
    }
}
