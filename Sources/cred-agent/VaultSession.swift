import CredentialDocuments
import Logging
import Shared
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// The agent's standing with Vault: a login token and the AWS keys read with it, each kept alive
/// ahead of expiry. A lease that Vault will not extend any further (not renewable, or capped by a
/// max TTL) leads to a fresh login and a fresh read while the old keys still work, since Vault
/// revokes a token's leases with the token. New keys are handed out only once STS accepts them.
/// `credentials` is called by the refresher (through `CredentialSource.fetch`) at `nextDue`.
final class VaultSession: Sendable, Equatable, CustomStringConvertible {
    /// How long freshly minted IAM keys may take to become valid at AWS (Vault's AWS engine docs speak
    /// of 5 to 10 seconds), polled with GetCallerIdentity; kept under the 30 s start-up bound.
    static let propagationWaitSeconds: Int64 = 20
    /// KV has no lease: its keys are read again this often, so a rotation in Vault reaches the worker.
    static let staticSecretRereadSeconds: Int64 = 3600

    private struct State {
        var token: VaultToken?
        var secret: VaultSecret?
        /// Set by a fresh login: the old token's leases die with it, so the secret must be read again.
        var secretOutlivesToken = false
    }

    let client: VaultClient
    let logger: Logger
    private let state = Mutex(State())

    init(client: VaultClient, logger: Logger) {
        self.client = client
        self.logger = logger
    }

    var description: String { "Vault \(client.settings.secretPath) with \(client.settings.login)" }

    static func == (lhs: VaultSession, rhs: VaultSession) -> Bool { lhs === rhs }

    /// The keys to hand out now, after whatever renewal, login or read is due.
    func credentials(sts: STSClient, now: Int64) throws(AgentError) -> BaseCredentials {
        var current = state.withLock { $0 }
        defer { state.withLock { $0 = current } }

        let token: VaultToken
        if let held = current.token, Self.isDue(obtained: held.obtained, lifetime: held.ttl, now: now) {
            let (renewed, loggedInAgain) = try keepAlive(held, now: now)
            token = renewed
            current.token = renewed
            if loggedInAgain { current.secretOutlivesToken = true }
        } else if let held = current.token {
            token = held
        } else {
            token = try client.logIn(now: now)
            current.token = token
            logger.notice("logged in to Vault", metadata: ["method": "\(client.settings.login)", "ttl": "\(token.ttl)"])
        }

        var mustReread = current.secret == nil || current.secretOutlivesToken

        if !mustReread, let secret = current.secret, Self.isDue(obtained: secret.obtained, lifetime: secretLifetime(secret), now: now) {
            if secret.renewable {
                do {
                    let renewed = try client.renew(secret, increment: secret.leaseDuration, token: token, now: now)
                    current.secret = renewed
                    // A shorter grant than asked means a max TTL is near: replace the keys instead.
                    mustReread = renewed.leaseDuration < secret.leaseDuration
                    logger.info("renewed the Vault lease", metadata: ["lease_duration": "\(renewed.leaseDuration)"])
                } catch {
                    logger.warning("cannot renew the Vault lease; reading a fresh secret", metadata: ["error": "\(error)"])
                    mustReread = true
                }
            } else {
                mustReread = true
            }
        }
        if mustReread {
            let fresh = try client.readSecret(token: token, now: now)
            if fresh.accessKeyID != current.secret?.accessKeyID {
                try awaitAcceptance(of: fresh, sts: sts)
            }
            current.secret = fresh
            current.secretOutlivesToken = false
            logger.notice(
                "read AWS keys from Vault",
                metadata: ["path": "\(client.settings.secretPath)", "lease_duration": "\(fresh.leaseDuration)",
                           "renewable": "\(fresh.renewable)"])
        }
        guard let secret = current.secret else { preconditionFailure("no secret after a read") }
        return secret.credentials(source: description)
    }

    /// When `credentials` has work to do next: the earlier of the token's and the secret's renewal times.
    func nextDue() -> Int64? {
        let current = state.withLock { $0 }
        var due: [Int64] = []
        if let token = current.token, token.ttl > 0 { due.append(token.obtained + RefreshSchedule.delay(untilExpiration: token.ttl)) }
        if let secret = current.secret {
            due.append(secret.obtained + RefreshSchedule.delay(untilExpiration: secretLifetime(secret)))
        }
        return due.min()
    }

    /// Renews the token, or logs in again when Vault will not extend it as far as asked.
    private func keepAlive(_ token: VaultToken, now: Int64) throws(AgentError) -> (VaultToken, loggedInAgain: Bool) {
        if token.renewable {
            do {
                let renewed = try client.renew(token, increment: token.ttl, now: now)
                if renewed.ttl >= token.ttl || !client.settings.login.canLogInAgain {
                    logger.info("renewed the Vault token", metadata: ["ttl": "\(renewed.ttl)"])
                    return (renewed, false)
                }
            } catch {
                guard client.settings.login.canLogInAgain else { throw error }
                logger.warning("cannot renew the Vault token; logging in again", metadata: ["error": "\(error)"])
            }
        } else if !client.settings.login.canLogInAgain {
            throw AgentError(.vault, "VAULT_TOKEN is not renewable and expires; use AppRole or JWT login for a long-running proxy")
        }
        let fresh = try client.logIn(now: now)
        logger.notice("logged in to Vault again", metadata: ["method": "\(client.settings.login)", "ttl": "\(fresh.ttl)"])
        return (fresh, true)
    }

    private func secretLifetime(_ secret: VaultSecret) -> Int64 {
        secret.leaseID.isEmpty ? Self.staticSecretRereadSeconds : max(1, secret.leaseDuration)
    }

    private static func isDue(obtained: Int64, lifetime: Int64, now: Int64) -> Bool {
        lifetime > 0 && now >= obtained + RefreshSchedule.delay(untilExpiration: lifetime)
    }

    /// Polls GetCallerIdentity with the new keys until AWS accepts them, at most `propagationWaitSeconds`.
    private func awaitAcceptance(of secret: VaultSecret, sts: STSClient) throws(AgentError) {
        let keys = secret.credentials(source: description)
        let deadline = Int64(time(nil)) + Self.propagationWaitSeconds
        var attempts = 0
        while true {
            attempts += 1
            do {
                let arn = try sts.callerIdentity(of: keys, now: Int64(time(nil)))
                logger.notice("AWS accepts the keys from Vault", metadata: ["arn": "\(arn)", "attempts": "\(attempts)"])
                return
            } catch {
                guard Int64(time(nil)) < deadline else {
                    throw AgentError(
                        .vault,
                        "--vault-path \(client.settings.secretPath): AWS did not accept the keys within "
                            + "\(Self.propagationWaitSeconds) s: \(error.detail)")
                }
                logger.info("AWS does not accept the new keys yet", metadata: ["error": "\(error)"])
                usleep(1_000_000)
            }
        }
    }
}
