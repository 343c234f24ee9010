import FoundationEssentials
import Shared

/// The JSON the metadata services and credential_process print: `AccessKeyId`, `SecretAccessKey`,
/// the session token (`Token` from the services, `SessionToken` from a process) and `Expiration`
/// (ISO 8601); the services add `Code`, a process `Version`.
public enum CredentialsJSON {
    private struct Keys: Decodable {
        var accessKeyID: String?
        var secretAccessKey: String?
        var token: String?
        var sessionToken: String?
        var expiration: String?
        var code: String?
        var message: String?
        var version: Int?

        enum CodingKeys: String, CodingKey {
            case accessKeyID = "AccessKeyId"
            case secretAccessKey = "SecretAccessKey"
            case token = "Token"
            case sessionToken = "SessionToken"
            case expiration = "Expiration"
            case code = "Code"
            case message = "Message"
            case version = "Version"
        }
    }

    /// `fromProcess`: credential_process output, which must say `Version` 1.
    public static func credentials(from body: [UInt8], source: String, fromProcess: Bool = false) throws(AgentError) -> BaseCredentials {
        guard let keys = try? JSONDecoder().decode(Keys.self, from: Data(body)) else {
            throw AgentError(.noCredentials, "\(source) answered something that is not credentials JSON")
        }
        if let code = keys.code, code != "Success" {
            throw AgentError(.noCredentials, "\(source) answered \(code): \(keys.message ?? "")")
        }
        if fromProcess && keys.version != 1 {
            throw AgentError(.incompleteCredentials, "\(source): the JSON has Version \(keys.version.map(String.init) ?? "missing"), not 1")
        }
        guard let keyID = keys.accessKeyID, !keyID.isEmpty, let secret = keys.secretAccessKey, !secret.isEmpty else {
            throw AgentError(.incompleteCredentials, "\(source) answered without AccessKeyId and SecretAccessKey")
        }
        var expiration: Int64? = nil
        if let text = keys.expiration {
            guard let parsed = UTCTime.epochSeconds(iso8601: text) else {
                throw AgentError(.incompleteCredentials, "\(source) answered an Expiration that is not ISO 8601: \(text)")
            }
            expiration = parsed
        }
        let token = keys.token ?? keys.sessionToken
        return BaseCredentials(
            accessKeyID: keyID, secretAccessKey: secret, sessionToken: token?.isEmpty == false ? token : nil,
            expiration: expiration, source: source)
    }
}
