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
        #expect(guard_.retryAfter(peer: "a", now: 0) == nil)
        guard_.recordFailure(peer: "a", now: 0)
        guard_.recordFailure(peer: "a", now: 1000)
        #expect(guard_.retryAfter(peer: "a", now: 2000) == 58_000)
        #expect(guard_.retryAfter(peer: "b", now: 2000) == nil)
        #expect(guard_.retryAfter(peer: "a", now: 60_500) == nil)
    }
}
