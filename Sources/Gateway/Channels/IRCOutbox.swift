import NetIO

/// The IRC channel's sends, from accepted to acknowledged, apart from the link that carries them
/// (`IRCChannel`). Each send's PRIVMSG lines, then a `PING :oc-<n>`, wait behind a token bucket
/// (`floodBurst` lines at once, then one per `floodIntervalMs`: servers drop a client that
/// floods), bounded per sender and in all (`IRCQueueLimits`). A send counts as started when its
/// first line is written (only once `willWrite` recorded it), as refused when the server answers
/// 401/404… about its target, and as delivered at the matching PONG: a server handles a client's
/// lines in order, so the PONG proves it processed every line before it.
final class IRCOutbox {
    /// How long the server may take to answer a send's PING before the link counts as dead.
    static let ackTimeoutMs: Int64 = 20_000

    private struct Line {
        let sendID: UInt64
        let bytes: [UInt8]
        let isFirst: Bool
        var isAck = false
        let sender: String
    }

    private struct PendingSend {
        let to: String
        let willWrite: () -> Bool
        let completion: (Result<Delivery, ChannelSendError>) -> Void
        var started = false
        var rejection: String?
        var ackTimer: TimerID?
    }

    private unowned let loop: EventLoop
    private let floodBurst: Int
    private let floodIntervalMs: Int64
    /// Writes to the link; false when it cannot (no link, output buffer full).
    private let write: ([UInt8]) -> Bool
    /// The link is to be dropped (`IRCChannel` then calls `failAll`).
    private let linkLost: (String) -> Void

    private var lines: [Line] = []
    private var tokens: Double
    private var lastRefillMs: Int64 = 0
    private var pacingTimer: TimerID?
    /// Lines waiting per sender (`IRCQueueLimits` bounds them).
    private var queuedBySender: [String: Int] = [:]
    private var pending: [UInt64: PendingSend] = [:]
    private var nextSendID: UInt64 = 1

    init(loop: EventLoop, floodBurst: Int, floodIntervalMs: Int64, write: @escaping ([UInt8]) -> Bool,
         linkLost: @escaping (String) -> Void) {
        self.loop = loop
        self.floodBurst = floodBurst
        self.floodIntervalMs = floodIntervalMs
        self.write = write
        self.linkLost = linkLost
        tokens = Double(floodBurst)
    }

    /// UNAVAILABLE when `adding` more lines would pass a bound; asked before anything is recorded.
    func refusal(adding: Int, sender: String) -> ChannelSendError? {
        IRCQueueLimits.refusal(adding: adding, senderQueued: queuedBySender[sender] ?? 0, totalQueued: lines.count,
                               floodIntervalMs: floodIntervalMs)
    }

    /// Queues one send's PRIVMSG lines (already split to fit) and the PING that acknowledges them.
    func enqueue(to: String, privmsgs: [[UInt8]], sender: String, willWrite: @escaping () -> Bool,
                 completion: @escaping (Result<Delivery, ChannelSendError>) -> Void) {
        let sendID = nextSendID
        nextSendID += 1
        pending[sendID] = PendingSend(to: to, willWrite: willWrite, completion: completion)
        for (i, bytes) in privmsgs.enumerated() {
            lines.append(Line(sendID: sendID, bytes: bytes, isFirst: i == 0, sender: sender))
        }
        lines.append(Line(sendID: sendID, bytes: IRCMessage("PING", ["oc-\(sendID)"]).serialized(), isFirst: false,
                          isAck: true, sender: sender))
        queuedBySender[sender, default: 0] += privmsgs.count + 1
        drain()
    }

    /// 401/403/404/…: the server refused a PRIVMSG of a send in flight to that target.
    func noteRejection(_ m: IRCMessage) {
        guard ["401", "403", "404", "407", "411", "412", "413", "414", "486", "492"].contains(m.command),
              m.params.count >= 2 else { return }
        let target = m.params[1].lowercased()
        for (key, p) in pending where p.started && p.rejection == nil && p.to.lowercased() == target {
            pending[key]?.rejection = "IRC server refused the message to \(p.to): \(m.params.last ?? m.command) (\(m.command))"
        }
    }

    /// The PONG to a send's PING: delivered, or refused when the server said so before it.
    func acknowledged(_ token: String) {
        guard token.hasPrefix("oc-"), let n = UInt64(token.dropFirst(3)), let p = pending.removeValue(forKey: n) else { return }
        if let t = p.ackTimer { loop.cancel(t) }
        if let rejection = p.rejection {
            p.completion(.failure(.invalidTarget(rejection)))
        } else {
            p.completion(.success(Delivery(deliveredAtMs: EventLoop.wallClockMs())))
        }
    }

    /// The link dropped: nothing queued is sent, and every send still waiting for its PONG fails,
    /// in doubt once its first line was written.
    func failAll(reason: String) {
        if let t = pacingTimer { loop.cancel(t); pacingTimer = nil }
        lines.removeAll()
        queuedBySender.removeAll()
        let failed = pending
        pending.removeAll()
        for (_, p) in failed.sorted(by: { $0.key < $1.key }) {
            if let t = p.ackTimer { loop.cancel(t) }
            if p.started {
                p.completion(.failure(.inDoubt("the IRC link dropped (\(reason)) before the server confirmed the message; "
                    + "it may or may not have been delivered")))
            } else {
                p.completion(.failure(.unavailable("the IRC link dropped (\(reason)) before the message was sent", retryAfterMs: nil)))
            }
        }
    }

    private func dequeued(_ sender: String, count: Int) {
        let left = (queuedBySender[sender] ?? count) - count
        queuedBySender[sender] = left > 0 ? left : nil
    }

    /// Writes what the bucket allows now, and schedules itself for the rest.
    private func drain() {
        let now = EventLoop.nowMs()
        if floodIntervalMs == 0 {
            tokens = Double(lines.count)
        } else {
            tokens = min(Double(floodBurst), tokens + Double(now - lastRefillMs) / Double(floodIntervalMs))
        }
        lastRefillMs = now
        while !lines.isEmpty && tokens >= 1 {
            let line = lines.removeFirst()
            dequeued(line.sender, count: 1)
            tokens -= 1
            if line.isFirst, let p = pending[line.sendID] {
                guard p.willWrite() else {
                    pending[line.sendID] = nil
                    dequeued(line.sender, count: lines.count(where: { $0.sendID == line.sendID }))
                    lines.removeAll { $0.sendID == line.sendID }
                    p.completion(.failure(.unavailable("the send could not be recorded durably; nothing was sent",
                                                       retryAfterMs: nil)))
                    continue
                }
                pending[line.sendID]?.started = true
            }
            guard write(line.bytes) else {
                linkLost("output buffer full")
                return
            }
            if line.isAck {
                pending[line.sendID]?.ackTimer = loop.schedule(afterMs: Self.ackTimeoutMs) { [unowned self] in
                    self.linkLost("the server did not answer within \(Self.ackTimeoutMs / 1000) s")
                }
            }
        }
        if !lines.isEmpty && pacingTimer == nil {
            let wait = Int64((1 - tokens) * Double(floodIntervalMs)) + 1
            pacingTimer = loop.schedule(afterMs: wait) { [unowned self] in
                self.pacingTimer = nil
                self.drain()
            }
        }
    }
}
