@testable import Gateway
import Testing

@Suite struct AuthGuardTests {
    @Test func constantTimeEquality() {
        #expect(AuthGuard.constantTimeEquals("secret", "secret"))
        #expect(!AuthGuard.constantTimeEquals("secret", "secreT"))
        #expect(!AuthGuard.constantTimeEquals("secret", "secret2"))
        #expect(!AuthGuard.constantTimeEquals("", "x"))
        #expect(AuthGuard.constantTimeEquals("", ""))
    }

    @Test func failuresAreThrottledPerPeerForAMinute() {
        var guard_ = AuthGuard(failuresPerMinute: 2)
        #expect(guard_.recordFailure(peer: "a", now: 0) == .refuse)
        #expect(guard_.recordFailure(peer: "a", now: 1000) == .refuse)
        #expect(guard_.recordFailure(peer: "a", now: 2000) == .startThrottling(retryAfterMs: 58_000))
        #expect(guard_.recordFailure(peer: "a", now: 3000) == .throttled(retryAfterMs: 57_000))
        #expect(guard_.recordFailure(peer: "b", now: 3000) == .refuse)
        #expect(guard_.recordFailure(peer: "a", now: 60_500) == .refuse)
    }

    @Test func memoryIsBoundedAndExpiredPeersArePrunedByTime() {
        var guard_ = AuthGuard(failuresPerMinute: 1)
        for i in 0..<(AuthGuard.maxPeers + 500) { _ = guard_.recordFailure(peer: "p\(i)", now: 0) }
        #expect(guard_.trackedPeers == AuthGuard.maxPeers)
        _ = guard_.recordFailure(peer: "late", now: AuthGuard.windowMs)
        #expect(guard_.trackedPeers == 1)
    }
}
