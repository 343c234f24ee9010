import Shared
import Synchronization

/// What /health reports, fed by the children's control messages. The seed's JSON, with a `reason`
/// when not ok: 200 only while a worker serves and its credentials have not expired.
final class HealthState: Sendable {
    private struct State {
        var workerServing = false
        var credentialsHeld = false
        var credentialExpiration: Int64?
    }

    private let state = Mutex(State())

    func workerServing(_ serving: Bool) { state.withLock { $0.workerServing = serving } }

    func credentials(held: Bool, expiration: Int64?) {
        state.withLock {
            $0.credentialsHeld = held
            $0.credentialExpiration = expiration
        }
    }

    struct Report: Equatable {
        var status: Int
        var json: String
    }

    func report(now: Int64) -> Report {
        let state = self.state.withLock { $0 }
        var reason: String?
        if !state.workerServing {
            reason = "smtp worker not running"
        } else if !state.credentialsHeld {
            reason = "no credentials"
        } else if let expiration = state.credentialExpiration, expiration <= now {
            reason = "credentials expired"
        }
        let head = "{\"name\":\"ses-smtp-proxy\",\"status\":\"\(reason == nil ? "ok" : "unavailable")\",\"version\":\"\(ProductVersion.string)\""
        guard let reason else { return Report(status: 200, json: head + "}") }
        return Report(status: 503, json: head + ",\"reason\":\"\(reason)\"}")
    }
}
