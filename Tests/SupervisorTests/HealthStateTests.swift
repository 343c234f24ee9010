import Testing

@testable import supervisor

struct HealthStateTests {
    @Test func okOnlyWithWorkerAndUnexpiredCredentials() {
        let health = HealthState()
        #expect(health.report(now: 100).status == 503)
        #expect(health.report(now: 100).json.contains("\"reason\":\"smtp worker not running\""))
        health.workerServing(true)
        #expect(health.report(now: 100).json.contains("\"reason\":\"no credentials\""))
        health.credentials(held: true, expiration: 200)
        let ok = health.report(now: 100)
        #expect(ok == .init(status: 200, json: "{\"name\":\"ses-smtp-proxy\",\"status\":\"ok\",\"version\":\"v0.1.0\",\"credentials_expire\":200}"))
        #expect(health.report(now: 200).json.contains("\"reason\":\"credentials expired\""))
        health.credentials(held: true, expiration: nil)
        #expect(health.report(now: 1_000_000).status == 200)
        #expect(health.report(now: 1_000_000).json.hasSuffix(",\"credentials_expire\":null}"))
    }

    @Test func childrenShowStateAndRestarts() {
        let health = HealthState()
        health.child(.agent, .running)
        health.child(.worker, .restarting)
        health.restarted(.worker)
        health.restarted(.worker)
        #expect(health.report(now: 0).json.contains(
            "\"children\":{\"ses-cred-agent\":{\"state\":\"running\",\"restarts\":0},\"ses-smtp-worker\":{\"state\":\"restarting\",\"restarts\":2}}"))
    }
}
