@testable import Gateway
import JSONCore
import OpenClawConfig
import Testing

@Suite struct SessionRoutingTests {
    @Test func channelMessagesAreAddressedByNickColonOrComma() {
        let nicks = ["clawbot_", "clawbot"]
        #expect(IRCConfig.addressedText("clawbot: hello", nicks: nicks) == "hello")
        #expect(IRCConfig.addressedText("ClawBot,   hi there", nicks: nicks) == "hi there")
        #expect(IRCConfig.addressedText("clawbot_: alt", nicks: nicks) == "alt")
        #expect(IRCConfig.addressedText("clawbotx: no", nicks: nicks) == nil)
        #expect(IRCConfig.addressedText("hey clawbot: no", nicks: nicks) == nil)
        #expect(IRCConfig.addressedText("clawbot:", nicks: nicks) == nil)
        #expect(IRCConfig.addressedText("clawbot: ", nicks: nicks) == nil)
    }

    @Test func allowFromDefaultsToNobodyAndNamesTheReason() throws {
        let base: JSONValue = ["server": "irc.test", "nick": "clawbot"]
        let none = try IRCConfig.parse(base)
        #expect(none.refusal(for: "alice")?.contains("allowFrom is empty") == true)
        guard case .object(var o) = base else { return }
        o["allowFrom"] = ["Alice", "b[o]b"]
        let some = try IRCConfig.parse(.object(o))
        #expect(some.refusal(for: "alice") == nil)
        #expect(some.refusal(for: "B{O}B") == nil)
        #expect(some.refusal(for: "mallory") == "mallory is not in channels.irc.allowFrom")
        o["allowFrom"] = "*"
        #expect(try IRCConfig.parse(.object(o)).refusal(for: "anyone") == nil)
        o["allowFrom"] = 3
        #expect(throws: ConfigError.self) { try IRCConfig.parse(.object(o)) }
    }

    @Test func repliesAreCutToWhatSendTakesOnACharacterBoundary() {
        #expect(SessionTurns.reply("hi", prefix: "bob: ") == "bob: hi")
        let long = String(repeating: "é", count: SendService.maxMessageBytes)
        let cut = SessionTurns.reply(long, prefix: "bob: ")
        #expect(cut.utf8.count <= SendService.maxMessageBytes && cut.hasSuffix(" […]") && cut.hasPrefix("bob: é"))
    }

    @Test func secretsFileLines() {
        let parsed = AgentLauncher.parseEnvironmentFile("# keys\nANTHROPIC_API_KEY=sk-1\n  QUOTED=\"a b\"\nbad line\n=x\nX-Y=1\n")
        #expect(parsed.map { "\($0.0)=\($0.1)" } == ["ANTHROPIC_API_KEY=sk-1", "QUOTED=a b"])
    }
}
