import GatewayProtocol
import JSONCore
import Testing

/// The gateway reads requests through `RequestEnvelope` and falls back to the full frame
/// reading for anything it declines. What it returns must be what the full reading returns.
@Suite struct RequestEnvelopeTests {
    private func fullReading(_ text: String) -> Frame? {
        guard let json = try? JSONValue.parse(text) else { return nil }
        return try? Frame(json: json)
    }

    private static let requests = [
        #"{"type":"req","id":"1","method":"health"}"#,
        #"{"type":"req","id":"42","method":"health","params":{}}"#,
        #"{"params":{"limit":5,"q":["a",null]},"method":"logs.tail","id":"é-1","type":"req"}"#,
        #"{"type":"req","id":"1","method":"status","params":null}"#,
        #"{"type":"req","id":"1","id":"2","method":"m","method":"n","params":1,"params":2,"type":"res"}"#,
        #"{"t\u0079pe":"req","\u0069d":"a\"b","method":"x\u0000y","extra":{"deep":[[{}]]},"params":[]}"#,
        " \n{ \"type\" : \"req\" , \"id\" : \"7\" , \"method\" : \"health\" } \r\n",
    ]

    @Test(arguments: requests) func readsRequestsAsTheFullReadingDoes(_ text: String) throws {
        let envelope = try #require(RequestEnvelope(reading: Array(text.utf8)))
        #expect(fullReading(text) == .request(id: envelope.id, method: envelope.method, params: envelope.params))
    }

    /// Each of these is left to the full reading (which refuses it, or reads another frame).
    private static let declined = [
        "", "[]", "null", #"{"type":"req","id":"1","method":"health""#, #"{"type":"req","id":"1","method":"health"} x"#,
        #"{"type":"req","id":"1","method":"health","params":{"a":}}"#, #"{"type":"cancel","id":"1"}"#,
        #"{"type":"res","id":"1","ok":true}"#, #"{"type":"event","event":"tick"}"#, #"{"id":"1","method":"health"}"#,
        #"{"type":"req","id":1,"method":"health"}"#, #"{"type":"req","id":"","method":"health"}"#,
        #"{"type":"req","id":"1","method":""}"#, #"{"type":"req","id":"1"}"#, #"{"type":"req","method":"health"}"#,
        #"{"type":1,"type":"req","id":"1","method":"health"}"#, #"{"type":"req","id":null,"id":"1","method":"h"}"#,
        #"{"type":"REQ","id":"1","method":"health"}"#, "{\"type\":\"req\",\"id\":\"\u{1}\",\"method\":\"h\"}",
    ]

    @Test(arguments: declined) func declinesEverythingElse(_ text: String) {
        #expect(RequestEnvelope(reading: Array(text.utf8)) == nil)
        if case .request = fullReading(text) { Issue.record("the full reading takes \(text) as a request") }
    }
}
