import Glibc
import GatewayProtocol
import JSONCore
import NetIO
import SystemdKit
import WebSocketCodec

/// What this process took over from the previous instance (`status.handover`).
struct TakeOverReport {
    var fromPid: Int32?
    var formatVersion: UInt16?
    var restored = 0
    var closed = 0
    /// Why the `closed` ones could not be carried on.
    var closedReason: String?
    let atMs = EventLoop.wallClockMs()

    var json: JSONValue {
        var o = JSONObject()
        if let fromPid { o["fromPid"] = .int(Int64(fromPid)) }
        if let formatVersion { o["formatVersion"] = .int(Int64(formatVersion)) }
        o["clients"] = .int(Int64(restored))
        o["closed"] = .int(Int64(closed))
        if closed > 0, let closedReason { o["closedReason"] = .string(closedReason) }
        o["at"] = .string(Timestamp.iso8601(ms: atMs))
        return .object(o)
    }
}

/// What the stored state said: carry on, or why not.
private enum StateRead {
    case read(HandoverState, version: UInt16)
    case lost(String)
}

/// The new process's half of a restart hand-over (docs/handover.md).
extension GatewayServer {
    /// The largest state read back: far above what a gateway's bounded buffers can produce.
    static let maxHandoverStateBytes = 1 << 30
    /// Client sockets taken from the store at most (the state's own limit).
    static let maxHandoverClients = HandoverLimits().maxConnections

    /// Carries on every stored client socket the state describes and closes the others with
    /// 1012 and a reason (a crash mid-hand-over, an unknown format), then empties the store, so
    /// nothing stays parked in it. Call before `start()`: restored clients are served from
    /// the first loop turn, before new ones are accepted.
    func takeOver(_ stored: [ActivatedSocket]) {
        guard !stored.isEmpty else { return }
        var report = TakeOverReport()
        var sockets: [FileIdentity: Int32] = [:]
        var unmatched: [Int32] = []
        var states: [Int32] = []
        for descriptor in stored {
            if descriptor.name == HandoverStore.stateName {
                states.append(descriptor.fd)
                continue
            }
            let clients: [Int32]
            do {
                clients = try DescriptorBundle.unpack(descriptor.fd, max: Self.maxHandoverClients)
            } catch {
                log.warning("cannot unpack the stored client sockets: \(error)", fields: [("OPENCLAW_HANDOVER", "lost")])
                clients = []
            }
            close(descriptor.fd)
            for fd in clients {
                if let identity = FileIdentity(fd: fd), sockets[identity] == nil { sockets[identity] = fd } else { unmatched.append(fd) }
            }
        }
        switch readState(states) {
        case .read(let state, let version):
            report.fromPid = state.fromPid
            report.formatVersion = version
            nextConnId = max(nextConnId, state.nextConnId)
            stateVersion = StateVersion(presence: state.presenceVersion, health: state.healthVersion)
            var records: [HandoverConnection] = []
            var fds: [Int32] = []
            for record in state.connections {
                // Absent: that socket did not reach the store (the old process died first).
                guard let fd = sockets.removeValue(forKey: FileIdentity(device: record.device, inode: record.inode)) else { continue }
                records.append(record)
                fds.append(fd)
            }
            report.closed = adopt(records, fds: fds)
            report.restored = records.count - report.closed
            report.closedReason = HandoverStore.stateLost
        case .lost(let reason):
            report.closedReason = reason
        }
        unmatched += sockets.values
        for fd in unmatched { closeLost(fd, reason: report.closedReason ?? "gateway restarted") }
        report.closed += unmatched.count
        for (name, error) in HandoverStore.empty() {
            log.warning("cannot empty the fd store (\(name)): \(error)")
        }
        takeOverReport = report
        if report.restored > 0 || report.fromPid != nil {
            log.notice("took over \(report.restored) client connection(s) from pid \(report.fromPid.map(String.init) ?? "?") "
                       + "(hand-over format v\(report.formatVersion.map(String.init) ?? "?"))",
                       fields: [("OPENCLAW_HANDOVER", "in"), ("OPENCLAW_CLIENTS", String(report.restored))])
        }
        if report.closed > 0 {
            log.warning("closed \(report.closed) stored client connection(s) with 1012: \(report.closedReason ?? "")",
                        fields: [("OPENCLAW_HANDOVER", "lost"), ("OPENCLAW_CLIENTS", String(report.closed))])
        }
    }

    /// The newest readable state among the stored memfds (normally exactly one), or the reason
    /// the clients cannot be carried on. Closes the memfds.
    private func readState(_ fds: [Int32]) -> StateRead {
        defer { for fd in fds { close(fd) } }
        guard !fds.isEmpty else { return .lost(HandoverStore.stateLost) }
        var best: (HandoverState, UInt16)?
        var problem = HandoverStore.stateLost
        for fd in fds {
            var decoder = HandoverDecoder()
            do {
                try MemoryFile.read(fd, maxBytes: Self.maxHandoverStateBytes) { decoder.feed($0) }
                let state = try decoder.finish()
                if best.map({ $0.0.handedAtMs < state.handedAtMs }) ?? true { best = (state, decoder.version ?? 0) }
            } catch {
                log.warning("cannot read the hand-over state: \(error)", fields: [("OPENCLAW_HANDOVER", "lost")])
                if case .unsupportedVersion(let v) = error as? HandoverFormatError {
                    problem = "gateway restarted; hand-over format v\(v) not supported"
                }
            }
        }
        guard let best else { return .lost(problem) }
        return .read(best.0, version: best.1)
    }

    /// Tells the client of a socket that cannot be carried on why it is closed (1012: it
    /// may reconnect at once), through the loop like any close.
    private func closeLost(_ fd: Int32, reason: String) {
        guard let channel = try? StreamChannel(loop: loop, fd: fd, maxBufferedBytes: 1024) else {
            close(fd)
            return
        }
        let payload = FrameEncoder.closePayload(code: .serviceRestart, reason: reason)
        _ = FrameHeader(.close, payloadCount: payload.count).withSpan { channel.queue(head: $0, body: payload.span) }
        channel.pauseReading()
        channel.closeAfterFlush()
        loop.schedule(afterMs: 2_000) { channel.close() }
    }
}

extension HandoverStore {
    /// Start-up failed after a hand-over, so no loop will serve the stored clients: each gets a
    /// best-effort 1012 close frame (non-blocking; a full socket buffer just closes) and the
    /// store is emptied, so they reconnect (and start the service again) instead of hanging.
    static func abandon(_ stored: [ActivatedSocket], reason: String) {
        guard !stored.isEmpty else { return }
        var frame: [UInt8] = []
        FrameEncoder.append(.close, payload: FrameEncoder.closePayload(code: .serviceRestart, reason: reason), to: &frame)
        for descriptor in stored {
            if descriptor.name == clientName {
                for fd in (try? DescriptorBundle.unpack(descriptor.fd, max: GatewayServer.maxHandoverClients)) ?? [] {
                    _ = send(fd, frame, frame.count, Int32(MSG_DONTWAIT) | Int32(MSG_NOSIGNAL))
                    shutdown(fd, Int32(SHUT_WR))
                    close(fd)
                }
            }
            close(descriptor.fd)
        }
        empty()
    }
}
