@testable import Gateway
import Testing

@Suite struct LogPageTests {
    func items(_ lines: [String]) -> [Page.Item] {
        lines.enumerated().map { Page.Item(line: $1, cursor: "c\($0)") }
    }

    @Test func followingKeepsTheOldestThatFit() {
        var page = items(["aaaa", "bbbb", "cccc"])
        #expect(Page.fit(&page, 10, keepNewest: false))
        #expect(page.map(\.cursor) == ["c0", "c1"])
    }

    @Test func aLineLongerThanMaxBytesIsCutNotDropped() {
        // Issue 14 item 17: the follower must move past it, or it polls the same cursor for ever.
        var page = items([String(repeating: "é", count: 300), "next"])
        #expect(Page.fit(&page, 100, keepNewest: false))
        #expect(page.count == 1 && page[0].cursor == "c0")
        #expect(page[0].line.utf8.count <= 100 && page[0].line.hasSuffix("[cut: 600 bytes]"))
        #expect(page[0].line.hasPrefix("éé"))

        var newest = items(["old", String(repeating: "x", count: 500)])
        #expect(Page.fit(&newest, 100, keepNewest: true))
        #expect(newest.count == 1 && newest[0].cursor == "c1" && newest[0].line.contains("[cut: 500 bytes]"))
    }

    @Test func everythingFitsUntouched() {
        var page = items(["a", "b"])
        #expect(!Page.fit(&page, 100, keepNewest: false) && page.count == 2)
    }

    @Test func priorityNamesAsJournalctlTakesThem() {
        #expect(JournalView.priority(named: "warning") == 4 && JournalView.priority(named: "err") == 3)
        #expect(JournalView.priority(named: "7") == 7 && JournalView.priority(named: "loud") == nil)
    }
}
