@testable import Gateway
import Glibc
import JSONCore
import NetIO
import OpenClawConfig
import Testing

/// `health` is written typed for a request and built as a tree for hello-ok's snapshot and
/// the `health` event: the two must read the same, byte for byte, apart from the fields
/// that move with every answer.
@Suite struct HealthWriterTests {
    @Test func typedHealthIsTheTreeByteForByte() throws {
        var template = Array("/tmp/openclaw-health-XXXXXX".utf8CString)
        let dir = template.withUnsafeMutableBufferPointer { String(cString: mkdtemp($0.baseAddress!)) }
        defer { _ = system("rm -rf '\(dir)'") }
        let settings = try ConfigLoader.load(paths: .init(profile: nil, stateDir: dir, configPath: dir + "/none.json"),
                                             environment: [:])
        let server = GatewayServer(loop: try EventLoop(), settings: settings,
                                   log: GatewayLog(verbose: false, profile: "", instance: "", environment: [:]),
                                   listeners: [], activation: "test")
        server.channels = try ChannelRegistry(server: server)
        try Messaging.install(on: server)  // the stores and the session summary, as the daemon has them
        for round in 0..<3 {  // the tail built, then reused, then rebuilt after a change
            if round == 2 { server.healthDidChange() }
            var typed: [UInt8] = []
            JSONByteWriter.appending(to: &typed) { server.writeHealth(into: &$0, startedUs: EventLoop.nowUs()) }
            guard case .object(let answer) = try JSONValue.parse(typed),
                  case .object(var tree) = server.healthPayload(durationMs: 0) else {
                Issue.record("health is not an object")
                return
            }
            for moving in ["ts", "durationMs", "uptimeMs"] { tree[moving] = answer[moving] }
            #expect(String(decoding: typed, as: UTF8.self) == JSONValue.object(tree).jsonString)
            #expect(tree.entries.map(\.key).prefix(4) == ["ok", "ts", "durationMs", "uptimeMs"])
        }
    }
}
