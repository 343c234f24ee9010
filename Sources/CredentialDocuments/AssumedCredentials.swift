import Shared

/// The temporary credentials of an STS AssumeRole* answer (XML), and whose they are.
public struct AssumedCredentials: Sendable {
    public var credentials: BaseCredentials
    public var arn: String?

    public init(parsing document: [UInt8], source: String) throws(AgentError) {
        guard let keyID = XMLText.first("AccessKeyId", in: document), let secret = XMLText.first("SecretAccessKey", in: document),
            let token = XMLText.first("SessionToken", in: document), let expires = XMLText.first("Expiration", in: document),
            let expiration = UTCTime.epochSeconds(iso8601: expires)
        else { throw AgentError(.sts, "\(source): STS answered without complete credentials") }
        let arn = XMLText.first("Arn", in: document)
        // The assumed identity, for the logs ("assumed-role/sender/relay"), else what was asked for.
        credentials = BaseCredentials(
            accessKeyID: keyID, secretAccessKey: secret, sessionToken: token, expiration: expiration, source: arn ?? source)
        self.arn = arn
    }
}
