// What the credential agent reads from outside — Vault, STS, the metadata services, credential_process —
// turned into credentials. A library of its own, with no I/O, so that the agent and the fuzzer
// (shared-fuzz) run the same parsers on the same bytes.

/// Long-lived or session credentials as found, before any signing key is derived.
public struct BaseCredentials: Equatable, Sendable, CustomStringConvertible {
    public var accessKeyID: String
    public var secretAccessKey: String
    public var sessionToken: String?
    public var expiration: Int64?
    /// Where they came from, for logs: "environment", "profile default in /root/.aws/credentials".
    public var source: String

    public init(accessKeyID: String, secretAccessKey: String, sessionToken: String?, expiration: Int64?, source: String) {
        self.accessKeyID = accessKeyID
        self.secretAccessKey = secretAccessKey
        self.sessionToken = sessionToken
        self.expiration = expiration
        self.source = source
    }

    public var description: String { "BaseCredentials(source: \(source), accessKeyID: <redacted>)" }
}

/// The agent's one error type: a startup or refresh failure whose message names what to fix.
public struct AgentError: Error, CustomStringConvertible {
    public enum Code: Equatable, Sendable {
        case noCredentials
        case incompleteCredentials
        case noRegion
        case profileNotFound
        case unsupported
        case io
        case sts
        case vault
    }

    public var code: Code
    public var detail: String

    public init(_ code: Code, _ detail: String) {
        self.code = code
        self.detail = detail
    }

    public var description: String { detail }
}
