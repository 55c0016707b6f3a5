import SystemdKit

extension GatewayService {
    /// "Last gateway error" (S7): the line that explains why the gateway does not answer.
    ///
    /// Only warning-or-worse lines of the *latest* run of the service and its socket count (an
    /// incident that a later start fixed is history, not the cause), from the gateway itself or
    /// from the manager about either unit (a socket that cannot bind is only explained there).
    /// A specific line ("Failed to create listening socket (127.0.0.1:18789): Address already in
    /// use") beats the manager's generic summaries ("Failed to listen on sockets", "Failed with
    /// result …"). nil when there is none or the journal cannot be read.
    func lastJournalError() -> String? {
        guard let (service, socket) = try? withManager({ (m) throws(SystemdError) in
            (try m.unit(target.serviceUnit), try m.unit(target.socketUnit))
        }) else { return nil }
        let (own, about) = target.kind == .user ? ("_SYSTEMD_USER_UNIT", "USER_UNIT") : ("_SYSTEMD_UNIT", "UNIT")
        let matches = ["\(own)=\(target.serviceUnit)", "\(about)=\(target.serviceUnit)", "\(about)=\(target.socketUnit)"]
        let lines = matches.flatMap { match -> [JournalLine] in
            guard let reader = try? JournalReader(matches: [match]) else { return [] }
            return (try? reader.tail(limit: 50)) ?? []
        }
        let runs = [service, socket].compactMap { $0 }.map(LatestRun.init)
        return Self.cause(among: lines, runs: runs)
    }

    /// Why systemd restarted the service last, from its own lines about it (the properties are reset
    /// by the restart): "21:03:12 UTC: Main process exited, code=dumped, status=6/ABRT; Failed with result
    /// 'watchdog'". Read only when NRestarts > 0.
    func lastRestartReason() -> String? {
        let about = target.kind == .user ? "USER_UNIT" : "UNIT"
        guard let reader = try? JournalReader(matches: ["\(about)=\(target.serviceUnit)"]),
              let lines = try? reader.tail(limit: 40) else { return nil }
        guard let scheduled = lines.lastIndex(where: { $0.message.contains("Scheduled restart job") }) else { return nil }
        let before = lines[..<scheduled].suffix(4).filter {
            $0.message.contains("Main process exited") || $0.message.contains("Failed with result")
                || $0.message.contains("Watchdog timeout") || $0.message.contains("Killing process")
        }
        guard let first = before.first else { return nil }
        let text = before.map { line in
            line.message.split(separator: ": ", maxSplits: 1).last.map(String.init) ?? line.message
        }
        return UTCTime.hhmmss(usec: first.realtimeUsec) + " UTC: " + text.joined(separator: "; ")
    }

    /// The latest activation of one unit, as journal lines can be matched to it.
    struct LatestRun {
        var invocationID: String
        var startedUsec: UInt64

        init(_ unit: UnitState) {
            invocationID = unit.invocationID
            startedUsec = unit.inactiveExitTimestamp ?? 0
        }

        init(invocationID: String, startedUsec: UInt64) {
            self.invocationID = invocationID
            self.startedUsec = startedUsec
        }
    }

    /// Pure selection over journal lines, so the rules are unit-tested without a journal.
    static func cause(among lines: [JournalLine], runs: [LatestRun]) -> String? {
        let ids = Set(runs.map(\.invocationID).filter { !$0.isEmpty })
        let earliestStart = runs.map(\.startedUsec).filter { $0 > 0 }.min() ?? 0
        let candidates = lines.filter { line in
            guard line.priority <= Int(LogPriority.warning.rawValue) else { return false }
            // The manager's lines about a unit name its run; `_SYSTEMD_INVOCATION_ID` there is the manager's own.
            let id = line.fields["USER_INVOCATION_ID"] ?? line.fields["INVOCATION_ID"] ?? line.fields["_SYSTEMD_INVOCATION_ID"]
            if let id { return ids.contains(id) }
            // Lines without an invocation id (journald could not tell): only those since the latest start.
            return earliestStart > 0 && line.realtimeUsec >= earliestStart
        }.sorted { $0.realtimeUsec < $1.realtimeUsec }
        return (candidates.last { !isGeneric($0.message) } ?? candidates.last)?.message
    }

    /// The manager's summaries that only say *that* something failed; the line before them says why.
    static func isGeneric(_ message: String) -> Bool {
        let generic = ["Failed to listen on", "Failed with result", "Failed to start", "Main process exited",
                       "Start request repeated too quickly", "Scheduled restart job", "Failed to run 'start' task"]
        return generic.contains { message.hasPrefix($0) || message.contains(": " + $0) }
    }
}

/// "21:03:12" for a wall-clock µs timestamp (UTC), without Foundation.
enum UTCTime {
    static func hhmmss(usec: UInt64) -> String {
        let seconds = Int(usec / 1_000_000) % 86_400
        func two(_ n: Int) -> String { n < 10 ? "0\(n)" : "\(n)" }
        return "\(two(seconds / 3600)):\(two(seconds / 60 % 60)):\(two(seconds % 60))"
    }
}
