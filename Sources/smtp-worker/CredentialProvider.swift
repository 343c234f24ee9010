import NIOCore
import Shared
import Synchronization

/// The worker's copy of the agent's signing material. It asks the agent again once a minute, when
/// the UTC date has no key yet, or when expiry is near; if the agent cannot answer, it keeps using
/// what it holds for as long as that is still valid (DESIGN: the agent may be restarting).
final class CredentialProvider: Sendable {
    private let agent: AgentConnection
    private let held = Mutex<(credentials: SESCredentials, fetchedAt: Int64)?>(nil)
    static let refreshInterval: Int64 = 60
    static let expiryMargin: Int64 = 60

    init(agent: AgentConnection) {
        self.agent = agent
    }

    /// On `eventLoop`, the caller's: the usual answer, from what is held, then costs no thread hop.
    func credentials(now: Int64, on eventLoop: EventLoop) -> EventLoopFuture<SESCredentials> {
        let current = held.withLock { $0 }
        if let current, now - current.fetchedAt < Self.refreshInterval,
            Self.usable(current.credentials, now: now)
        {
            return eventLoop.makeSucceededFuture(current.credentials)
        }
        return agent.request(.credentials).hop(to: eventLoop).flatMapThrowing { reply in
            switch reply {
            case .credentials(let fresh):
                self.held.withLock { $0 = (fresh, now) }
                return fresh
            case .unavailable(let retryAfter):
                throw SESFailure.credentialsUnavailable("agent has none, retry after \(retryAfter) s")
            }
        }.flatMapErrorThrowing { error in
            if let current, Self.usable(current.credentials, now: now) { return current.credentials }
            if let failure = error as? SESFailure { throw failure }
            throw SESFailure.credentialsUnavailable("\(error)")
        }
    }

    static func usable(_ credentials: SESCredentials, now: Int64) -> Bool {
        guard credentials.signingKey(forDate: UTCTime(epochSeconds: now).dateStamp) != nil else { return false }
        guard let expiration = credentials.expiration else { return true }
        return expiration - now > expiryMargin
    }
}
