// STS for the credential agent (query API, version 2011-06-15): AssumeRole for --cross-account-role and
// profile role_arn, AssumeRoleWithWebIdentity (unsigned, as the SDKs send it), GetCallerIdentity to
// check that freshly minted keys are accepted. Blocking; called from the agent's thread pool.
import CredentialDocuments
import HTTPTransport
import Shared

struct STSClient: Sendable {
    let http: HTTPClient
    let environment: [String: String]
    let region: String

    func assumeRole(with base: BaseCredentials, roleArn: String, sessionName: String, externalID: String?, now: Int64) throws(AgentError) -> AssumedCredentials {
        var fields = [("Action", "AssumeRole"), ("Version", "2011-06-15"), ("RoleArn", roleArn), ("RoleSessionName", sessionName),
                      ("DurationSeconds", "3600")]
        if let externalID { fields.append(("ExternalId", externalID)) }
        let document = try post(fields, signedWith: base, now: now, what: "AssumeRole \(roleArn)")
        return try AssumedCredentials(parsing: document, source: "role \(roleArn)")
    }

    func assumeRoleWithWebIdentity(roleArn: String, sessionName: String, token: String, now: Int64) throws(AgentError) -> AssumedCredentials {
        let fields = [("Action", "AssumeRoleWithWebIdentity"), ("Version", "2011-06-15"), ("RoleArn", roleArn),
                      ("RoleSessionName", sessionName), ("WebIdentityToken", token), ("DurationSeconds", "3600")]
        let document = try post(fields, signedWith: nil, now: now, what: "AssumeRoleWithWebIdentity \(roleArn)")
        return try AssumedCredentials(parsing: document, source: "web identity role \(roleArn)")
    }

    /// The ARN AWS sees for `credentials`; throws when AWS refuses them.
    func callerIdentity(of credentials: BaseCredentials, now: Int64) throws(AgentError) -> String {
        let document = try post([("Action", "GetCallerIdentity"), ("Version", "2011-06-15")], signedWith: credentials, now: now, what: "GetCallerIdentity")
        guard let arn = XMLText.first("Arn", in: document) else { throw AgentError(.sts, "GetCallerIdentity: no Arn in the answer") }
        return arn
    }

    private func post(_ fields: [(String, String)], signedWith credentials: BaseCredentials?, now: Int64, what: String) throws(AgentError) -> [UInt8] {
        let endpoint: AWSEndpoint
        do {
            endpoint = try AWSEndpoint.resolve(serviceID: "STS", hostPrefix: "sts", environment: environment, region: region)
        } catch {
            guard case .invalid(let variable, let value) = error else { throw AgentError(.sts, "\(error)") }
            throw AgentError(.sts, "\(variable)=\(value) is not an http:// or https:// URL")
        }
        let body = SigV4.formBody(fields)
        let time = UTCTime(epochSeconds: now)
        let headers: [(name: String, value: String)]
        if let credentials {
            let key = SigV4.signingKey(secretAccessKey: credentials.secretAccessKey, date: time.dateStamp, region: region, service: "sts")
            headers = SigV4.signedQueryHeaders(
                endpoint: endpoint, body: body, accessKeyID: credentials.accessKeyID, signingKey: key,
                sessionToken: credentials.sessionToken, time: time,
                scope: SigV4.Scope(date: time.dateStamp, region: region, service: "sts"))
        } else {
            headers = SigV4.queryHeaders(endpoint: endpoint, amzDate: time.amzDate)
        }
        let response: HTTPResponse
        do {
            response = try http.perform(HTTPRequest(method: "POST", url: endpoint.url, headers: headers, body: .bytes(body)))
        } catch {
            throw AgentError(.sts, "\(what): \(endpoint.url) did not answer: \(error.detail)")
        }
        guard response.status == 200 else {
            let code = XMLText.first("Code", in: response.body) ?? "HTTP \(response.status)"
            let message = XMLText.first("Message", in: response.body) ?? ""
            throw AgentError(.sts, "\(what): STS refused: \(code) \(message)")
        }
        return response.body
    }
}
