import GatewayProtocol
import Testing

@Suite struct ControlCharactersTests {
    @Test func controlsBecomeVisibleEscapes() {
        #expect(ControlCharacters.escaped("a\u{1B}]0;t\u{7}\r\nb\u{7F}\u{9B}c") == #"a\x1b]0;t\x07\r\nb\x7f\u009bc"#)
        #expect(ControlCharacters.escaped("line\n\tok", keeping: ["\n", "\t"]) == "line\n\tok")
    }

    @Test func printableTextIsUntouched() {
        for text in ["plain", "café ünïcødé 日本", "\u{A0}non-breaking", ""] {
            #expect(ControlCharacters.escaped(text) == text)
        }
    }
}
