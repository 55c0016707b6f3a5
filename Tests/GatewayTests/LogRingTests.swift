@testable import Gateway
import Testing

@Suite struct LogRingTests {
    /// 300 lines of 1 MB (client text that ended up in the log) must not stay in memory.
    @Test func retainedBytesAreBoundedWhateverTheLineSizes() {
        var ring = LogRing(maxLines: 2000, maxBytes: 1 << 20, maxLineBytes: 8 * 1024)
        let big = String(repeating: "x", count: 1 << 20)
        for _ in 0..<300 { ring.append(big) }
        #expect(ring.bytes <= 1 << 20)
        #expect(ring.all.allSatisfy { $0.line.utf8.count <= 8 * 1024 })
        #expect(ring.all.last!.line.hasSuffix("[1048576 bytes, cut]"))
        for i in 0..<5000 { ring.append("line \(i)") }
        #expect(ring.count == 2000)
        #expect(ring.all.first!.line == "line 3000")
        #expect(ring.all.map(\.seq) == Array(ring.all.first!.seq...ring.all.last!.seq))
    }

    @Test func cutKeepsWholeCharacters() {
        let line = String(repeating: "é", count: 100)  // 2 bytes each
        let cut = LogRing.cut(line, to: 51)
        #expect(cut.utf8.count <= 51)
        #expect(cut.hasPrefix("éé"))
        #expect(!cut.contains("\u{FFFD}"))
    }
}

@Suite struct GatewayLogFormatTests {
    /// The text line: time, priority, message, then each field with its key lowercased and
    /// without the `OPENCLAW_` prefix (other keys keep theirs); values as they are.
    @Test func fieldKeysAreLowercasedWithoutTheirPrefix() {
        let line = GatewayLog.format(priority: .info, message: "client connected",
                                     fields: [("OPENCLAW_CONN_ID", "c1"), ("OPENCLAW_PEER", "127.0.0.1:5"),
                                              ("SYSLOG_IDENTIFIER", "É=x"), ("OPENCLAW", "bare")])
        let parts = line.split(separator: " ", maxSplits: 1)
        #expect(parts[0].hasSuffix("Z") && parts[0].count == 24)
        #expect(parts[1] == "INFO client connected conn_id=c1 peer=127.0.0.1:5 syslog_identifier=É=x openclaw=bare")
    }
}
