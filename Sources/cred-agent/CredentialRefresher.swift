import Logging
import NIOCore
import NIOPosix
import Shared

#if canImport(Glibc)
import Glibc
#endif

/// Fetches credentials again before they expire (`RefreshSchedule`), retrying with backoff while the
/// current ones are still valid; a failure never ends the agent. Each outcome is counted
/// (smtpd_credential_renewal_*) and the new expiry reported to the supervisor for /health.
struct CredentialRefresher: Sendable {
    let source: CredentialSource
    let sts: STSClient
    let store: CredentialStore
    let pool: NIOThreadPool
    let control: Channel
    let logger: Logger

    func run() async {
        var attempt = 0
        while !Task.isCancelled {
            let now = Int64(time(nil))
            let expiration = store.credentials.expiration
            let wait: Int64
            if attempt > 0 {
                wait = RefreshSchedule.retryDelay(attempt: attempt, remaining: (expiration ?? now + 3600) - now)
            } else {
                let due = [expiration.map { now + RefreshSchedule.delay(untilExpiration: $0 - now) }, source.maintenanceDue]
                guard let next = due.compactMap({ $0 }).min() else { return }  // fixed keys: nothing to refresh
                wait = next - now
            }
            logger.debug("next credential refresh", metadata: ["in_seconds": "\(max(1, wait))"])
            do {
                try await Task.sleep(for: .seconds(max(1, wait)))
            } catch {
                return
            }
            let source = self.source
            let sts = self.sts
            do {
                let fresh = try await pool.runIfActive { try source.fetch(sts: sts, now: Int64(time(nil))) }
                store.replace(with: fresh)
                attempt = 0
                report(.credentialStatus(expiration: fresh.expiration))
                report(.metric(.credentialRenewalSuccess, delta: 1))
                logger.notice(
                    "credentials refreshed",
                    metadata: ["identity": "\(fresh.source)", "expiration": "\(fresh.expiration.map(String.init) ?? "none")"])
            } catch {
                attempt += 1
                report(.metric(.credentialRenewalError, delta: 1))
                logger.warning(
                    "credential refresh failed; keeping the current ones",
                    metadata: ["error": "\(error)", "attempt": "\(attempt)",
                               "expires_in": "\(expiration.map { String($0 - Int64(time(nil))) } ?? "never")"])
            }
        }
    }

    private func report(_ message: ControlMessage) {
        control.writeAndFlush(message.frame, promise: nil)
    }
}
