import CCryptShim
import NIOCore
import NIOPosix
import SMTPCore
import Synchronization

/// Checks AUTH attempts against the users file on the thread pool (a yescrypt or bcrypt hash costs
/// tens of milliseconds, which an event loop must not spend). A failure is answered after a delay
/// that doubles with each failure from the same address, so guessing is slow and the worker stays
/// responsive; an unknown user costs the same hash as a known one, so users cannot be listed.
final class Authenticator: Sendable {
    private let users: AuthUsers
    private let threadPool: NIOThreadPool
    private let delays = FailureDelays()
    /// Compared against for unknown users: the work of a real check, never a match.
    private let decoyHash: String

    init(users: AuthUsers, threadPool: NIOThreadPool) {
        self.users = users
        self.threadPool = threadPool
        decoyHash = users.users.values.map(\.hash).sorted().first ?? "$6$decoy$"
    }

    func verify(_ attempt: AuthAttempt, peer: String, on eventLoop: EventLoop) -> EventLoopFuture<AuthIdentity?> {
        let users = self.users
        let decoyHash = self.decoyHash
        return threadPool.runIfActive(eventLoop: eventLoop) { () -> AuthIdentity? in
            let user = users.users[attempt.user]
            let matches = shim_crypt_matches(attempt.password, user?.hash ?? decoyHash) == 1
            guard let user, matches else { return nil }
            return AuthIdentity(user: attempt.user, allowedSenders: user.allowedSenders)
        }
        .flatMap { identity in
            if let identity {
                self.delays.succeeded(peer)
                return eventLoop.makeSucceededFuture(identity)
            }
            return eventLoop.scheduleTask(in: self.delays.failed(peer, now: .now())) { nil }.futureResult
        }
    }
}

/// Per client address: how many AUTH failures in a row, forgotten 15 minutes after the last one.
final class FailureDelays: Sendable {
    static let first = TimeAmount.milliseconds(250)
    static let longest = TimeAmount.seconds(8)
    static let memory = TimeAmount.minutes(15)
    /// Past this many addresses the oldest entries go (a bound against address-rotating floods).
    static let maxAddresses = 10_000

    private let failures = Mutex<[String: (count: Int, last: NIODeadline)]>([:])

    /// The delay before this failure is answered: 250 ms, 500 ms, 1 s, … up to 8 s.
    func failed(_ peer: String, now: NIODeadline) -> TimeAmount {
        failures.withLock { failures in
            var entry = failures[peer] ?? (0, now)
            if now - entry.last > Self.memory { entry.count = 0 }
            entry = (entry.count + 1, now)
            failures[peer] = entry
            if failures.count > Self.maxAddresses {
                let expired = failures.filter { now - $0.value.last > Self.memory }.map(\.key)
                for key in expired { failures.removeValue(forKey: key) }
                if failures.count > Self.maxAddresses, let oldest = failures.min(by: { $0.value.last < $1.value.last })?.key {
                    failures.removeValue(forKey: oldest)
                }
            }
            let shift = Int64(min(entry.count - 1, 16))
            return .nanoseconds(min(Self.longest.nanoseconds, Self.first.nanoseconds << shift))
        }
    }

    func succeeded(_ peer: String) {
        _ = failures.withLock { $0.removeValue(forKey: peer) }
    }
}
