@testable import Gateway
import Glibc
import NetIO
import Testing

private func tempDir() -> String {
    var template = Array("/tmp/openclaw-sessions-XXXXXX".utf8CString)
    return template.withUnsafeMutableBufferPointer { String(cString: mkdtemp($0.baseAddress!)) }
}

private func removeTree(_ path: String) {
    _ = path.withCString { p in system("rm -rf '\(String(cString: p))'") }
}

@Suite struct DurableFileSymlinkTests {
    @Test func aPlantedTempSymlinkIsReplacedNotFollowed() throws {
        let dir = tempDir()
        defer { removeTree(dir) }
        let victim = dir + "/victim"
        try DurableFile.append(victim, Array("precious\n".utf8))
        #expect(symlink(victim, dir + "/t.jsonl.tmp") == 0)
        try DurableFile.replace(dir + "/t.jsonl", with: Array("new\n".utf8))
        #expect(try DurableFile.read(victim) == Array("precious\n".utf8))
        #expect(try DurableFile.read(dir + "/t.jsonl") == Array("new\n".utf8))
        #expect(symlink(victim, dir + "/link.jsonl") == 0)
        #expect(throws: SystemCallError.self) { try DurableFile.append(dir + "/link.jsonl", Array("x".utf8)) }
        #expect(try DurableFile.read(victim) == Array("precious\n".utf8))
    }
}

@Suite struct SessionKeyTests {
    @Test func conversationKeysAreLowercasedAndRouteBack() {
        let key = SessionKey.conversation(channel: "irc", isGroup: true, peer: "#Ops")
        #expect(key == "irc:group:#ops")
        #expect(SessionKey.route(of: key) == SessionRoute(channel: "irc", to: "#ops", isGroup: true))
        #expect(SessionKey.route(of: "irc:direct:Alice") == SessionRoute(channel: "irc", to: "Alice", isGroup: false))
        #expect(SessionKey.route(of: "work") == nil)
    }

    @Test func fileNamesRoundTripAnyKey() {
        for key in ["irc:group:#ops", "a/b/../c", "ümlaut key", "x%41", "plain-key_1.2"] {
            let name = SessionKey.fileName(key)
            #expect(!name.contains("/"))
            #expect(SessionKey.key(fromFileName: name) == key)
        }
        #expect(SessionKey.key(fromFileName: "x.jsonl.1") == nil)
        #expect(SessionKey.key(fromFileName: "%zz.jsonl") == nil)
    }

    @Test func problemsAreNamed() {
        #expect(SessionKey.problem("") != nil)
        #expect(SessionKey.problem("a\nb") != nil)
        #expect(SessionKey.problem(String(repeating: "k", count: 201)) != nil)
        #expect(SessionKey.problem("irc:direct:alice") == nil)
    }
}

@Suite struct SessionStoreTests {
    @Test func transcriptsSurviveReopeningOldestFirst() throws {
        let dir = tempDir()
        defer { removeTree(dir) }
        var clock: Int64 = 1_000
        let store = try SessionStore(stateDir: dir, now: { clock })
        try store.append("irc:direct:alice", [.init(role: "user", text: "hi", ts: 1), .init(role: "assistant", text: "hello", ts: 2)])
        clock = 2_000
        try store.append("cli:other", [.init(role: "user", text: "x", ts: 3)])
        let reopened = try SessionStore(stateDir: dir)
        #expect(reopened.count == 2)
        #expect(try reopened.history("irc:direct:alice", limit: 10).map(\.text) == ["hi", "hello"])
        #expect(try reopened.history("irc:direct:alice", limit: 1).map(\.text) == ["hello"])
        #expect(try reopened.history("missing", limit: 5).isEmpty)
        #expect(store.recent().map(\.key) == ["cli:other", "irc:direct:alice"])
    }

    @Test func aTornLastLineIsSkipped() throws {
        let dir = tempDir()
        defer { removeTree(dir) }
        let store = try SessionStore(stateDir: dir)
        try store.append("k", [.init(role: "user", text: "one", ts: 1)])
        try DurableFile.append(store.transcriptPath("k"), Array("{\"role\":\"assist".utf8))
        #expect(try store.history("k", limit: 10).map(\.text) == ["one"])
    }

    @Test func aFullTranscriptRotatesAndKeepsTheNewestTurns() throws {
        let dir = tempDir()
        defer { removeTree(dir) }
        let store = try SessionStore(stateDir: dir, maxTranscriptBytes: 2_000)
        for i in 0..<60 { try store.append("k", [.init(role: "user", text: "turn \(i)", ts: Int64(i))]) }
        let path = store.transcriptPath("k")
        var st = stat()
        #expect(stat(path, &st) == 0 && st.st_size <= 2_000)
        #expect(stat(path + ".1", &st) == 0)
        let turns = try store.history("k", limit: 1_000)
        #expect(turns.last?.text == "turn 59")
        #expect(turns.count > 1 && turns.count < 60)
        #expect(turns.map(\.ts) == turns.map(\.ts).sorted())
    }
}

@Suite struct DurableFileTests {
    /// A FIFO planted where a transcript is read must be refused, not block the loop on open(2).
    @Test func aFIFOIsRefusedWithoutBlocking() throws {
        let dir = tempDir()
        defer { removeTree(dir) }
        let path = dir + "/planted.jsonl"
        #expect(mkfifo(path, 0o600) == 0)
        #expect(throws: SystemCallError.self) { _ = try DurableFile.read(path) }
    }
}
