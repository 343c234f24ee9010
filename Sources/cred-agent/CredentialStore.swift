import CredentialDocuments
import Shared
import Synchronization

/// The credentials the agent currently hands out, replaced by the refresher. The worker channels read
/// it at every request, so a refresh reaches the worker at its next request.
final class CredentialStore: Sendable {
    private let current: Mutex<BaseCredentials>
    let region: String

    init(_ credentials: BaseCredentials, region: String) {
        current = Mutex(credentials)
        self.region = region
    }

    var credentials: BaseCredentials { current.withLock { $0 } }

    func replace(with credentials: BaseCredentials) { current.withLock { $0 = credentials } }
}

/// When to fetch credentials again: a pure function of their expiry, tested with plain numbers.
enum RefreshSchedule {
    /// Long-lived credentials are refreshed 15 minutes before they expire (botocore's advisory
    /// window); short-lived ones at half their remaining life, so a refresh that fails has time for
    /// retries before the old credentials stop working.
    static func delay(untilExpiration remaining: Int64) -> Int64 {
        remaining > 1800 ? remaining - 900 : max(1, remaining / 2)
    }

    /// After a failed refresh: 5 s, doubling to 5 minutes, but always leaving the current credentials'
    /// last moments for one more try.
    static func retryDelay(attempt: Int, remaining: Int64) -> Int64 {
        let backoff = min(300, 5 << min(attempt, 6))
        return max(1, min(Int64(backoff), remaining / 2))
    }
}
