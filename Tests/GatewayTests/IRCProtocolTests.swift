@testable import Gateway
import Testing

@Suite struct IRCMessageParsingTests {
    @Test func parsesPrefixCommandAndTrailing() throws {
        let m = try #require(IRCMessage.parse(Array(":alice!al@host.example PRIVMSG #ops :hello there".utf8)))
        #expect(m.prefix == "alice!al@host.example")
        #expect(m.sourceNick == "alice")
        #expect(m.command == "PRIVMSG")
        #expect(m.params == ["#ops", "hello there"])
    }

    @Test func parsesNumericsTagsAndExtraSpaces() throws {
        let m = try #require(IRCMessage.parse(Array("@time=2026-01-01T00:00:00Z :srv 433  *   bot :Nickname is already in use".utf8)))
        #expect(m.prefix == "srv")
        #expect(m.command == "433")
        #expect(m.params == ["*", "bot", "Nickname is already in use"])
    }

    @Test func emptyTrailingAndNoParams() throws {
        #expect(IRCMessage.parse(Array("PING :".utf8))?.params == [""])
        #expect(IRCMessage.parse(Array("ping".utf8)) == IRCMessage("PING"))
        #expect(IRCMessage.parse(Array("".utf8)) == nil)
        #expect(IRCMessage.parse(Array(":onlyprefix".utf8)) == nil)
    }

    @Test func invalidUTF8BecomesReplacementCharacter() throws {
        let m = try #require(IRCMessage.parse([UInt8]("PRIVMSG x :a".utf8) + [0xFF] + [UInt8]("b".utf8)))
        #expect(m.params[1] == "a\u{FFFD}b")
    }

    @Test func serializesTrailingOnlyWhenNeeded() {
        #expect(IRCMessage("NICK", ["bot"]).serialized() == Array("NICK bot\r\n".utf8))
        #expect(IRCMessage("PRIVMSG", ["#ops", "hi there"]).serialized() == Array("PRIVMSG #ops :hi there\r\n".utf8))
        #expect(IRCMessage("PRIVMSG", ["#ops", ":)"]).serialized() == Array("PRIVMSG #ops ::)\r\n".utf8))
        #expect(IRCMessage("PONG", [""]).serialized() == Array("PONG :\r\n".utf8))
    }

    @Test func serializationCannotInjectLines() {
        let bytes = IRCMessage("PRIVMSG", ["#ops", "hi\r\nQUIT :bye\0"]).serialized()
        #expect(bytes == Array("PRIVMSG #ops :hiQUIT :bye\r\n".utf8))
    }
}

@Suite struct IRCLineFramerTests {
    @Test func reassemblesLinesAcrossChunks() {
        var f = IRCLineFramer()
        #expect(f.feed(Array("PING :a\r\nPRIVMSG #x :hel".utf8)) == [IRCMessage("PING", ["a"])])
        #expect(f.feed(Array("lo\r".utf8)).isEmpty)
        #expect(f.feed(Array("\n".utf8)) == [IRCMessage("PRIVMSG", ["#x", "hello"])])
    }

    @Test func toleratesBareLFAndSkipsBlankLines() {
        var f = IRCLineFramer()
        #expect(f.feed(Array("\r\n\nPING x\nPING y\r\n".utf8)) == [IRCMessage("PING", ["x"]), IRCMessage("PING", ["y"])])
    }

    @Test func discardsOverlongLinesAndRecovers() {
        var f = IRCLineFramer(maxLineBytes: 16)
        let out = f.feed(Array(("PRIVMSG #x :" + String(repeating: "a", count: 100) + "\r\nPING ok\r\n").utf8))
        #expect(out == [IRCMessage("PING", ["ok"])])
    }
}

@Suite struct IRCSplitterTests {
    @Test func budgetCountsRelayPrefixAndCommand() {
        // 512 - CRLF - ":bot!u@h " - "PRIVMSG #ops :"
        #expect(IRCTextSplitter.textBudget(target: "#ops", nick: "bot", userHost: "u@h") == 512 - 2 - 9 - 14)
        // Unknown host: assume the RFC's worst case.
        #expect(IRCTextSplitter.textBudget(target: "#ops", nick: "bot", userHost: nil) == 512 - 2 - (1 + 3 + 75 + 1) - 14)
    }

    @Test func everyRelayedLineFitsIn512Bytes() {
        let nick = "openclaw", userHost = "~openclaw@some.very.long.host.name.example.org", target = "#operations"
        let budget = IRCTextSplitter.textBudget(target: target, nick: nick, userHost: userHost)
        let text = Array(repeating: "word", count: 400).joined(separator: " ")
        let lines = IRCTextSplitter.split(text, budget: budget)
        #expect(lines.count > 3)
        for line in lines {
            let relayed = IRCMessage(prefix: "\(nick)!\(userHost)", "PRIVMSG", [target, line]).serialized()
            #expect(relayed.count <= 512)
        }
        #expect(lines.joined(separator: " ") == text)
    }

    @Test func neverCutsInsideAUTF8Sequence() {
        let text = String(repeating: "é漢🙂", count: 200)  // 2 + 3 + 4 bytes, no spaces
        for budget in [16, 17, 18, 19, 100, 401] {
            let lines = IRCTextSplitter.split(text, budget: budget)
            for line in lines {
                #expect(line.utf8.count <= budget)
                #expect(!line.contains("\u{FFFD}"))
            }
            #expect(lines.joined() == text)
        }
    }

    @Test func newlinesStartNewLinesAndEmptyOnesVanish() {
        #expect(IRCTextSplitter.split("one\ntwo\r\n\nthree\r", budget: 100) == ["one", "two", "three"])
        #expect(IRCTextSplitter.split("\n\n", budget: 100).isEmpty)
    }

    @Test func prefersWordBoundaries() {
        let lines = IRCTextSplitter.split("aaaa bbbb cccc dddd", budget: 12)
        #expect(lines == ["aaaa bbbb", "cccc dddd"])
    }
}

@Suite struct IRCSessionTests {
    let config = IRCSession.Config(nick: "clawbot", username: "oc", realname: "OpenClaw gateway", password: "pw",
                                   channels: ["#ops", "#dev"])

    @Test func registersThenJoins() {
        var s = IRCSession(config: config)
        #expect(s.start() == [
            .send(IRCMessage("PASS", ["pw"])),
            .send(IRCMessage("NICK", ["clawbot"])),
            .send(IRCMessage("USER", ["oc", "0", "*", "OpenClaw gateway"])),
        ])
        let out = s.handle(IRCMessage(prefix: "srv", "001", ["clawbot", "Welcome to the Internet Relay Network clawbot!~oc@127.0.0.1"]))
        #expect(out == [.registered(nick: "clawbot"), .send(IRCMessage("JOIN", ["#ops,#dev"]))])
        #expect(s.isRegistered)
        #expect(s.userHost == "~oc@127.0.0.1")
    }

    @Test func nickCollisionTriesAlternatesWithinNineCharacters() {
        var s = IRCSession(config: config)
        _ = s.start()
        #expect(s.handle(IRCMessage(prefix: "srv", "433", ["*", "clawbot", "in use"])) == [.send(IRCMessage("NICK", ["clawbot_"]))])
        #expect(s.handle(IRCMessage(prefix: "srv", "433", ["*", "clawbot_", "in use"])) == [.send(IRCMessage("NICK", ["clawbot2"]))])
        #expect(IRCSession.alternateNick("ninechars", attempt: 1) == "ninechar_")
        #expect(IRCSession.alternateNick("ninechars", attempt: 12) == "ninecha12")
        _ = s.handle(IRCMessage(prefix: "srv", "001", ["clawbot2", "Welcome"]))
        #expect(s.nick == "clawbot2")
        // After registration a collision on a NICK change is not ours to fix.
        #expect(s.handle(IRCMessage(prefix: "srv", "433", ["clawbot2", "x", "in use"])).isEmpty)
    }

    @Test func answersPingAndReportsPongTokens() {
        var s = IRCSession(config: config)
        #expect(s.handle(IRCMessage("PING", ["irc.example"])) == [.send(IRCMessage("PONG", ["irc.example"]))])
        #expect(s.handle(IRCMessage(prefix: "srv", "PONG", ["srv", "oc-7"])) == [.ack(token: "oc-7")])
    }

    @Test func inboundPrivmsgIgnoresSelfAndCTCPButKeepsActions() {
        var s = IRCSession(config: config)
        _ = s.handle(IRCMessage(prefix: "srv", "001", ["clawbot", "Welcome"]))
        #expect(s.handle(IRCMessage(prefix: "alice!a@h", "PRIVMSG", ["#ops", "hi bot"]))
            == [.inbound(from: "alice", target: "#ops", text: "hi bot", isAction: false)])
        #expect(s.handle(IRCMessage(prefix: "alice!a@h", "PRIVMSG", ["clawbot", "\u{1}ACTION waves\u{1}"]))
            == [.inbound(from: "alice", target: "clawbot", text: "waves", isAction: true)])
        #expect(s.handle(IRCMessage(prefix: "alice!a@h", "PRIVMSG", ["clawbot", "\u{1}VERSION\u{1}"])).isEmpty)
        #expect(s.handle(IRCMessage(prefix: "ClawBot!oc@h", "PRIVMSG", ["#ops", "echo"])).isEmpty)
    }

    @Test func tracksJoinsKicksAndRefusals() {
        var s = IRCSession(config: config)
        _ = s.handle(IRCMessage(prefix: "srv", "001", ["clawbot", "Welcome"]))
        _ = s.handle(IRCMessage(prefix: "clawbot!~oc@10.0.0.1", "JOIN", ["#ops"]))
        #expect(s.joined == ["#ops"])
        #expect(s.userHost == "~oc@10.0.0.1")
        #expect(s.handle(IRCMessage(prefix: "op!o@h", "KICK", ["#ops", "clawbot", "bye"])) == [.kicked(channel: "#ops", by: "op", reason: "bye")])
        #expect(s.joined.isEmpty)
        #expect(s.handle(IRCMessage(prefix: "srv", "464", ["*", "Password incorrect"])) == [.refused("Password incorrect")])
    }
}

@Suite struct IRCConfigTests {
    @Test func parsesDefaultsAndRefusesTLS() throws {
        let c = try IRCConfig.parse(["server": "127.0.0.1", "nick": "bot", "channels": ["#ops"]])
        #expect(c.port == 6667)
        #expect(c.session.channels == ["#ops"])
        #expect(throws: (any Error).self) { try IRCConfig.parse(["server": "h", "nick": "bot", "tls": true]) }
        #expect(throws: (any Error).self) { try IRCConfig.parse(["server": "h", "nick": "9bot"]) }
        #expect(throws: (any Error).self) { try IRCConfig.parse(["server": "h", "nick": "bot", "channels": ["ops"]]) }
    }

    @Test func targets() {
        #expect(IRCConfig.isValidTarget("#ops"))
        #expect(IRCConfig.isValidTarget("alice"))
        #expect(!IRCConfig.isValidTarget("#a,#b"))
        #expect(!IRCConfig.isValidTarget("alice bob"))
        #expect(!IRCConfig.isValidTarget("15551234567"))
        #expect(IRCConfig.isValidTarget("#café"))
        #expect(IRCConfig.isValidUsername("claw") && !IRCConfig.isValidUsername("a \u{301}b") && !IRCConfig.isValidUsername("a@b"))
        for hostile in ["#ops\u{600},#secret", "#ops,\u{301}#secret", "#ops \u{301}x", "#ops\r\nQUIT", "#ops\u{202E}",
                        "#a:b", "#a\u{7F}", "#" + String(repeating: "a", count: IRCConfig.maxTargetBytes)] {
            #expect(!IRCConfig.isValidTarget(hostile), "\(hostile.debugDescription)")
        }
    }
}

@Suite struct IRCLimitsTests {
    @Test func kickBackoffDoublesAndIsForgotten() {
        var b = KickBackoff()
        #expect(b.nextDelay(channel: "#ops", nowMs: 0) == 5_000)
        #expect(b.nextDelay(channel: "#OPS", nowMs: 6_000) == 10_000)
        #expect(b.nextDelay(channel: "#other", nowMs: 6_000) == 5_000)
        for t in 0..<10 { _ = b.nextDelay(channel: "#ops", nowMs: 7_000 + Int64(t)) }
        #expect(b.nextDelay(channel: "#ops", nowMs: 8_000) == 300_000)
        #expect(b.nextDelay(channel: "#ops", nowMs: 8_000 + 600_000) == 5_000)
    }

    @Test func queueIsBoundedPerSenderAndInAll() {
        #expect(IRCQueueLimits.refusal(adding: 36, senderQueued: 64, totalQueued: 64, floodIntervalMs: 500) == nil)
        guard case .unavailable(let m, let after)? = IRCQueueLimits.refusal(adding: 36, senderQueued: 70, totalQueued: 70,
                                                                          floodIntervalMs: 500) else {
            Issue.record("a sender past 100 lines must be refused")
            return
        }
        #expect(after == 3_000)
        #expect(m.contains("this client already has 70 lines queued"))
        guard case .unavailable(let all, _)? = IRCQueueLimits.refusal(adding: 2, senderQueued: 0, totalQueued: 399,
                                                                    floodIntervalMs: 500) else {
            Issue.record("past 400 lines in all, everyone is refused")
            return
        }
        #expect(all.contains("399 lines are queued"))
    }
}
