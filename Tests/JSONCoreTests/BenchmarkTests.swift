import Foundation
import JSONCore
import Testing

/// A quick timing aid, off by default because debug builds and shared CI
/// cores make its numbers meaningless. Run with
/// `JSONCORE_BENCH=1 swift test -c release --filter JSONCoreBenchmark`.
@Suite(.enabled(if: ProcessInfo.processInfo.environment["JSONCORE_BENCH"] != nil))
struct JSONCoreBenchmark {
    static let frames = [
        ("request", #"{"type":"req","id":"42","method":"health","params":{}}"#),
        ("response", #"{"type":"res","id":"42","ok":true,"payload":{"status":"ok","uptimeMs":1234567,"version":"2026.1.5","pid":4242,"connections":17,"channels":[{"id":"telegram","connected":true,"lastEventAt":1767225600123},{"id":"slack","connected":false,"lastEventAt":null}],"load":0.73,"memoryRss":52428800,"host":"gw-01"}}"#),
    ]

    @Test func parseAndSerialize() throws {
        for (name, text) in Self.frames {
            let bytes = Array(text.utf8)
            var out: [UInt8] = []
            out.reserveCapacity(1024)
            let iterations = 200_000
            var best = Duration.seconds(1_000)
            for _ in 0..<5 {
                let elapsed = try ContinuousClock().measure {
                    for _ in 0..<iterations {
                        out.removeAll(keepingCapacity: true)
                        try JSONValue.parse(bytes).serialize(into: &out)
                    }
                }
                best = min(best, elapsed)
            }
            let nanoseconds = Double(best.components.attoseconds) / 1e9 + Double(best.components.seconds) * 1e9
            print("JSONCore parse+serialize \(name) (\(bytes.count) B): \(Int(nanoseconds / Double(iterations))) ns")
        }
    }
}
