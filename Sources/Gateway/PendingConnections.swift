/// Connections that have not completed hello-ok, oldest first, at most `limit`.
///
/// Before authentication a socket costs memory and a descriptor but proves nothing, so
/// their number is capped. When a new one arrives at the cap the oldest is evicted rather
/// than the newcomer refused: a real client finishes its handshake in milliseconds, so
/// an attacker holding sockets open cannot lock it out.
struct PendingConnections {
    var limit: Int
    /// Oldest first; entries past hello-ok or closed are pruned when the queue is full.
    private var queue: [Connection] = []

    init(limit: Int) { self.limit = limit }

    /// Adds `connection`; returns the connection to evict, if the cap is reached.
    mutating func admit(_ connection: Connection) -> Connection? {
        if queue.count >= limit { queue.removeAll { !$0.isPending } }
        let evicted = queue.count >= limit ? queue.removeFirst() : nil
        queue.append(connection)
        return evicted
    }
}
