import Shared
import Synchronization

/// What /health reports, fed by the run loop and the children's control messages. The seed's JSON
/// (`name`, `status`, `version`) comes first and unchanged; `reason` says why when not ok, and
/// `children` and `credentials_expire` tell an operator where to look. 200 only while a worker serves
/// and the credentials it signs with have not expired.
final class HealthState: Sendable {
    enum ChildState: String, Sendable {
        case starting, running, restarting, stopping
    }

    private struct State {
        var workerServing = false
        var credentialsHeld = false
        var credentialExpiration: Int64?
        var children: [ChildRole: (state: ChildState, restarts: Int)] = [:]
    }

    private let state = Mutex(State())

    func workerServing(_ serving: Bool) { state.withLock { $0.workerServing = serving } }

    func credentials(held: Bool, expiration: Int64?) {
        state.withLock {
            $0.credentialsHeld = held
            $0.credentialExpiration = expiration
        }
    }

    func child(_ role: ChildRole, _ childState: ChildState) {
        state.withLock { $0.children[role, default: (childState, 0)].state = childState }
    }

    func restarted(_ role: ChildRole) {
        state.withLock { $0.children[role, default: (.restarting, 0)].restarts += 1 }
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
        var json = "{\"name\":\"ses-smtp-proxy\",\"status\":\"\(reason == nil ? "ok" : "unavailable")\",\"version\":\"\(ProductVersion.string)\""
        if let reason { json += ",\"reason\":\"\(reason)\"" }
        let children = ChildRole.allCases.compactMap { role -> String? in
            guard let child = state.children[role] else { return nil }
            return "\"\(role.rawValue)\":{\"state\":\"\(child.state.rawValue)\",\"restarts\":\(child.restarts)}"
        }
        if !children.isEmpty { json += ",\"children\":{\(children.joined(separator: ","))}" }
        if state.credentialsHeld {
            json += ",\"credentials_expire\":\(state.credentialExpiration.map(String.init) ?? "null")"
        }
        return Report(status: reason == nil ? 200 : 503, json: json + "}")
    }
}
