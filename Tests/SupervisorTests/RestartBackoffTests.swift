import Testing

@testable import supervisor

struct RestartBackoffTests {
    @Test func delaysDoubleUpToTheCap() {
        var backoff = RestartBackoff(initial: .milliseconds(100), cap: .seconds(30), healthyAfter: .seconds(60))
        let delays = (0..<12).map { _ in backoff.delay(afterRunOf: .seconds(1)) }
        #expect(delays.prefix(4) == [.milliseconds(100), .milliseconds(200), .milliseconds(400), .milliseconds(800)])
        #expect(delays.last == .seconds(30))
        #expect(delays.allSatisfy { $0 <= .seconds(30) })
    }

    @Test func aHealthyRunResetsTheBackoff() {
        var backoff = RestartBackoff()
        for _ in 0..<8 { _ = backoff.delay(afterRunOf: .seconds(1)) }
        #expect(backoff.delay(afterRunOf: .seconds(61)) == .milliseconds(100))
    }
}
