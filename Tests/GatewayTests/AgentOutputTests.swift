@testable import Gateway
import Testing

@Suite struct AgentOutputTests {
    @Test func holdsBackAnIncompleteUTF8Sequence() {
        let smile = Array("🙂".utf8)  // 4 bytes
        #expect(AgentRunner.completeUTF8Prefix(Array("ab".utf8)) == 2)
        #expect(AgentRunner.completeUTF8Prefix(Array("a".utf8) + smile) == 5)
        for cut in 1..<4 {
            #expect(AgentRunner.completeUTF8Prefix(Array("a".utf8) + smile.prefix(cut)) == 1)
        }
        #expect(AgentRunner.completeUTF8Prefix(Array("é".utf8).prefix(1).map { $0 }) == 0)
        #expect(AgentRunner.completeUTF8Prefix([]) == 0)
    }
}
