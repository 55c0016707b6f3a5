import Glibc
import SystemdKit
import Testing

@Suite struct JournalFieldNameTests {
    @Test(arguments: ["MESSAGE_ID", "OPENCLAW_PROFILE", "A", "CODE_LINE2", "X_1_Y", String(repeating: "A", count: 64)])
    func accepts(_ name: String) {
        #expect(Journal.isValidFieldName(name))
    }

    @Test(arguments: [
        "", "_PID", "__CURSOR", "1ABC", "9", "lower", "Mixed_Case", "WITH-DASH", "WITH SPACE", "WITH=EQUALS",
        "ÜMLAUT", "TAB\t", String(repeating: "A", count: 65),
    ])
    func rejects(_ name: String) {
        #expect(!Journal.isValidFieldName(name))
    }
}

/// Unique per run, so the reader tests hold on a machine with a busy journal too.
private let testIdentifier = "sdkit-test-\(getpid())-\(DaemonTestSupport.monotonicMicroseconds())"
/// Never logged: the round trip test logs under `testIdentifier` in parallel.
private let silentIdentifier = testIdentifier + "-silent"

@Suite struct JournalTests {
    /// libsystemd drops entries silently when journald's socket is missing (ENOENT), which is why
    /// the gateway asks `isAvailable` first and logs to stderr otherwise.
    @Test(.enabled(if: !Journal.isAvailable, "journald is running here"))
    func sendWithoutJournaldIsDropped() {
        #expect(access("/run/systemd/journal/socket", F_OK) != 0)
        #expect(throws: Never.self) {
            try Journal.send("hello", priority: .info, identifier: testIdentifier, fields: [("OPENCLAW_PROFILE", "test")])
        }
    }

    @Test func readerWithNothingToReadIsEmpty() throws {
        let reader = try JournalReader(matches: ["SYSLOG_IDENTIFIER=\(silentIdentifier)"])
        #expect(try reader.tail(limit: 10).isEmpty)
        let cursor = "s=0123456789abcdef0123456789abcdef;i=1;b=0123456789abcdef0123456789abcdef;m=1;t=1;x=1"
        let after = try reader.after(cursor: cursor, limit: 10)
        #expect(after.lines.isEmpty)
        #expect(!after.reset)
    }

    /// The fd an epoll loop waits on for `logs --follow`; nothing was appended under this match.
    @Test func waitDescriptorIsPollable() throws {
        let reader = try JournalReader(matches: ["SYSLOG_IDENTIFIER=\(silentIdentifier)"])
        let fd = try reader.waitDescriptor()
        #expect(fd >= 0)
        #expect(throws: Never.self) { _ = try reader.processEvents() }
        #expect(try reader.tail(limit: 1).isEmpty)
    }

    @Test func readerRejectsMalformedInput() throws {
        let invalidMatch = #expect(throws: SystemdError.self) { try JournalReader(matches: ["no equals sign"]) }
        #expect(invalidMatch?.call.hasPrefix("sd_journal_add_match") == true)
        #expect(invalidMatch?.errno == EINVAL)

        let reader = try JournalReader(matches: [])
        let badCursor = #expect(throws: SystemdError.self) { try reader.after(cursor: "not a cursor", limit: 1) }
        #expect(badCursor?.call == "sd_journal_seek_cursor")
    }

    /// Runs where journald does (the booted container of Tests/system): a round trip through it.
    @Test(.enabled(if: Journal.isAvailable, "needs journald"))
    func roundTripThroughJournald() throws {
        let reader = try JournalReader(matches: ["SYSLOG_IDENTIFIER=\(testIdentifier)", "OPENCLAW_PROFILE=test"])
        for index in 1...3 {
            try Journal.send("line \(index)\nsecond row", priority: .warning, identifier: testIdentifier,
                             fields: [("OPENCLAW_PROFILE", "test"), ("bad name", "dropped"), ("MESSAGE", "dup")])
        }
        var lines: [JournalLine] = []
        for _ in 0..<100 where lines.count < 3 {
            usleep(50_000)
            lines = try reader.tail(limit: 10)
        }
        #expect(lines.map(\.message) == ["line 1\nsecond row", "line 2\nsecond row", "line 3\nsecond row"])
        #expect(lines.allSatisfy { $0.priority == 4 && $0.fields["OPENCLAW_PROFILE"] == "test" })
        #expect(lines.allSatisfy { !$0.fields.values.contains("dropped") && !$0.fields.values.contains("dup") })
        #expect(lines.allSatisfy { $0.fields["_PID"] == String(getpid()) })
        guard lines.count == 3 else { return }

        #expect(try reader.tail(limit: 2).map(\.cursor) == lines.suffix(2).map(\.cursor))
        let afterFirst = try reader.after(cursor: lines[0].cursor, limit: 10)
        #expect(afterFirst.lines.map(\.cursor) == lines.dropFirst().map(\.cursor))
        #expect(!afterFirst.reset)
        let afterLast = try reader.after(cursor: lines[2].cursor, limit: 10)
        #expect(afterLast.lines.isEmpty && !afterLast.reset)
        #expect(try reader.after(cursor: lines[0].cursor, limit: 1).lines.map(\.cursor) == [lines[1].cursor])

        // A cursor whose entry is gone (vacuumed): same position, different entry hash.
        let vanished = lines[0].cursor.split(separator: ";").map { $0.hasPrefix("x=") ? "x=1" : $0 }.joined(separator: ";")
        let restarted = try reader.after(cursor: vanished, limit: 2)
        #expect(restarted.reset)
        #expect(restarted.lines.map(\.cursor) == lines.suffix(2).map(\.cursor))
    }
}
