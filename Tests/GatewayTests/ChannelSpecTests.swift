@testable import Gateway
import JSONCore
import OpenClawConfig
import Testing

/// A reload keeps a channel linked exactly when its parsed spec is unchanged.
@Suite struct ChannelSpecTests {
    private func specs(_ text: String) throws -> [ChannelSpec] {
        try ChannelSpec.parse(try JSONValue.parse(text)).specs
    }

    @Test func keyOrderAndSpacingDoNotCountAsAChange() throws {
        let a = try specs(##"{"irc":{"server":"127.0.0.1","port":6667,"nick":"clawbot","channels":["#ops"]}}"##)
        let b = try specs(##"{ "irc": { "channels": [ "#ops" ], "nick": "clawbot", "port": 6667, "server": "127.0.0.1" } }"##)
        #expect(a == b)
    }

    @Test func realChangesAreChanges() throws {
        let base = try specs(##"{"irc":{"server":"127.0.0.1","nick":"clawbot","channels":["#ops"]}}"##)
        #expect(base != (try specs(##"{"irc":{"server":"127.0.0.1","nick":"clawbot2","channels":["#ops"]}}"##)))
        #expect(base != (try specs(##"{"irc":{"server":"127.0.0.1","nick":"clawbot","channels":["#ops","#dev"]}}"##)))
        #expect(base != (try specs(##"{"irc":{"server":"127.0.0.2","nick":"clawbot","channels":["#ops"]}}"##)))
    }

    @Test func disabledAndUnknownChannels() throws {
        let parsed = try ChannelSpec.parse(try JSONValue.parse(
            ##"{"irc":{"server":"h","nick":"n","enabled":false},"whatsapp":{}}"##))
        #expect(parsed.specs.isEmpty)
        #expect(parsed.unsupported == ["whatsapp"])
        #expect(try specs("null").isEmpty)
    }

    @Test func brokenChannelConfigNamesTheField() throws {
        for (text, field) in [
            (##"{"irc":{"server":"h","nick":"n","tls":true}}"##, "channels.irc.tls"),
            (##"{"irc":{"server":"h"}}"##, "channels.irc.nick"),
            (##"{"irc":{"nick":"n"}}"##, "channels.irc.server"),
            (##"{"irc":{"server":"h","nick":"n","channels":["ops"]}}"##, "channels.irc.channels"),
            (##"[]"##, "channels must be an object"),
        ] {
            let error = #expect(throws: ConfigError.self) { try specs(text) }
            #expect(error?.message.contains(field) == true, "\(text)")
        }
    }
}
