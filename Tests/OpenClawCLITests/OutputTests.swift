import Glibc
import JSONCore
import OpenClawConfig
@testable import OpenClawCLI
import Testing

private func plain(_ text: String, _ color: Terminal.Color) -> String { text }

@Suite struct HealthTextTests {
    @Test func healthyWithALinkedChannel() {
        let health: JSONValue = [
            "ok": true, "durationMs": 2, "uptimeMs": 192_000,
            "linkChannel": ["id": "irc", "label": "IRC", "linked": true],
            "channels": ["irc": ["configured": true, "linked": true, "connected": true, "authAgeMs": 65_000]],
        ]
        #expect(HealthText.render(health, paint: plain) == """
            Gateway: healthy (uptime 3m 12s, checked in 2 ms)
            Link channel: irc (IRC), linked
            Channels:
              irc: linked, connected, auth age 1m 5s
            """)
    }

    @Test func unhealthyChannelShowsItsError() {
        let health: JSONValue = [
            "ok": false,
            "channels": ["irc": ["configured": true, "linked": false, "connected": false, "lastError": "refused"]],
        ]
        #expect(HealthText.render(health, paint: plain) == """
            Gateway: unhealthy
            Channels:
              irc: not linked, disconnected; last error: refused
            """)
    }

    /// An IRC server's error text reaches the terminal: an ESC sequence in it (clear screen,
    /// retitle) must arrive as visible text, like the label and channel names the gateway sends.
    @Test func controlCharactersFromTheGatewayAreEscaped() {
        let health: JSONValue = [
            "ok": false,
            "linkChannel": ["id": "irc", "label": "IRC\u{1b}]0;owned\u{07}", "linked": false],
            "channels": ["irc\r": ["linked": false, "connected": false, "lastError": "K-lined\u{1b}[2J\u{9b}31m\ncontinued"]],
        ]
        let text = HealthText.render(health, paint: plain)
        #expect(!text.unicodeScalars.contains { $0 == "\u{1b}" || $0 == "\u{07}" || $0 == "\u{9b}" || $0 == "\r" })
        #expect(text == """
            Gateway: unhealthy
            Link channel: irc (IRC\\x1b]0;owned\\x07), not linked
            Channels:
              irc\\r: not linked, disconnected; last error: K-lined\\x1b[2J\\u009b31m\\ncontinued
            """)
    }

    @Test func noChannels() {
        #expect(HealthText.render(["ok": true, "channels": [:]], paint: plain)
            == "Gateway: healthy\nChannels: none configured")
    }

    @Test(arguments: [
        (Int64(0), "0 ms"), (999, "999 ms"), (1000, "1s"), (59_999, "59s"), (60_000, "1m 0s"),
        (3_600_000, "1h 0m"), (90_061_000, "1d 1h"),
    ])
    func durations(_ ms: Int64, _ text: String) {
        #expect(HealthText.duration(ms: ms) == text)
    }
}

@Suite struct SessionTextTests {
    /// Whoever may talk to the bot writes the transcript: an ESC sequence or a CR in a message or
    /// a nick reaches `sessions history` as visible text; a reply's own newlines stay.
    @Test func transcriptTextIsEscaped() {
        let history: JSONValue = ["messages": [
            ["role": "user", "from": "eve\u{1b}]0;x\u{07}", "ts": 0, "text": "hi\u{1b}[2J\rforged"],
            ["role": "assistant", "ts": 0, "text": "line one\nline two\u{9b}1m"],
        ]]
        let lines = SessionText.history(history, key: "irc:direct:eve", paint: plain)
        #expect(lines == [
            "[1970-01-01T00:00:00.000Z] user eve\\x1b]0;x\\x07: hi\\x1b[2J\\rforged",
            "[1970-01-01T00:00:00.000Z] assistant: line one\nline two\\u009b1m",
        ])
        let list: JSONValue = ["sessions": [["key": "irc:group:#ops\u{1b}[8m", "kind": "group", "updatedAt": 0]]]
        #expect(SessionText.list(list) == ["irc:group:#ops\\x1b[8m  group  updated 1970-01-01T00:00:00.000Z"])
    }
}

@Suite struct TargetTests {
    @Test(arguments: [
        ("127.0.0.1", "ws://127.0.0.1:18789"), ("0.0.0.0", "ws://127.0.0.1:18789"), ("::", "ws://[::1]:18789"),
        ("::1", "ws://[::1]:18789"), ("192.168.1.5", "ws://192.168.1.5:18789"),
    ])
    func urlFromBind(_ bind: String, _ url: String) {
        #expect(GatewaySettings.clientURL(bind: bind, port: 18789) == url)
    }

    @Test func precedence() throws {
        let dir = "/nonexistent-openclaw-test"
        var env = ["OPENCLAW_STATE_DIR": dir, "OPENCLAW_GATEWAY_PORT": "19999", "OPENCLAW_GATEWAY_TOKEN": "envtok"]
        var target = try GatewayTarget.resolve(profile: nil, override: RPCTarget(), environment: env)
        #expect(target.url == "ws://127.0.0.1:19999")
        #expect(target.token == "envtok")
        #expect(target.configPath == dir + "/openclaw.json")
        env["OPENCLAW_GATEWAY_URL"] = "ws://10.1.1.1:1"
        target = try GatewayTarget.resolve(profile: nil, override: RPCTarget(), environment: env)
        #expect(target.url == "ws://10.1.1.1:1")
        target = try GatewayTarget.resolve(
            profile: nil, override: RPCTarget(url: "ws://h:2", token: "flag"), environment: env)
        #expect(target.url == "ws://h:2")
        #expect(target.token == "flag")
    }
}

@Suite struct ProfileTargetTests {
    /// G1/S10: each profile's commands reach that profile's port, read from its own config.
    @Test func profilesReadTheirOwnConfig() throws {
        var template = Array("/tmp/openclaw-cli-test-XXXXXX".utf8CString)
        let home = try #require(template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }.map { String(cString: $0) })
        defer { _ = system("rm -rf '\(home)'") }
        for (dir, port) in [(".openclaw", 18789 + 1), (".openclaw-work", 18789 + 2)] {
            #expect(mkdir(home + "/" + dir, 0o700) == 0)
            let file = fopen(home + "/" + dir + "/openclaw.json", "w")
            fputs("{\"gateway\": {\"port\": \(port), \"auth\": {\"token\": \"t-\(dir)\"}}}", file)
            fclose(file)
        }
        let env = ["HOME": home]
        let main = try GatewayTarget.resolve(profile: nil, override: RPCTarget(), environment: env)
        let work = try GatewayTarget.resolve(profile: "work", override: RPCTarget(), environment: env)
        #expect(main.url == "ws://127.0.0.1:18790")
        #expect(main.token == "t-.openclaw")
        #expect(work.url == "ws://127.0.0.1:18791")
        #expect(work.token == "t-.openclaw-work")
        #expect(work.configPath == home + "/.openclaw-work/openclaw.json")
    }
}

@Suite struct IdempotencyKeyTests {
    @Test func uuidShapeAndUnique() {
        let a = IdempotencyKey.generate()
        let b = IdempotencyKey.generate()
        #expect(a != b)
        #expect(a.count == 36)
        #expect(a.split(separator: "-").map(\.count) == [8, 4, 4, 4, 12])
        #expect(Array(a)[14] == "4")
    }
}

@Suite struct LogFollowerTests {
    @Test func firstPollAsksForTheLastLines() {
        let follower = LogFollower()
        #expect(follower.params(limit: 20) == ["limit": 20, "maxBytes": 1_000_000])
    }

    @Test func laterPollsResumeFromTheCursor() {
        var follower = LogFollower()
        let first = follower.accept(["source": "journal", "cursor": "c1", "lines": ["a", "b"], "cursors": ["c0", "c1"]])
        #expect(first == .init(lines: ["a", "b"], cursors: ["c0", "c1"], cursor: "c1", reset: false, more: false))
        #expect(follower.params(limit: 20) == ["cursor": "c1", "limit": 1000, "maxBytes": 1_000_000])
        // Nothing new: the cursor stays where it was.
        _ = follower.accept(["cursor": "c1", "lines": []])
        #expect(follower.cursor == "c1")
    }

    @Test func anEmptyCursorKeepsTheOldOne() {
        var follower = LogFollower()
        _ = follower.accept(["cursor": "c1", "lines": ["a"]])
        _ = follower.accept(["cursor": "", "lines": []])
        #expect(follower.cursor == "c1")
    }

    @Test func resetAndMore() {
        var follower = LogFollower()
        _ = follower.accept(["cursor": "mem:a:5", "lines": ["x"], "reset": true])
        let batch = follower.accept(["cursor": "mem:b:3", "lines": ["1", "2", "3"], "reset": true, "truncated": true])
        #expect(batch.reset)
        #expect(batch.more)
        #expect(follower.cursor == "mem:b:3")
    }
}
