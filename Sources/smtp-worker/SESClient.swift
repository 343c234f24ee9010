import HTTPTransport
import NIOCore
import Shared
import SMTPCore

/// Sends SendRawEmail, signed with the derived key the agent handed over. Blocking: runs on the
/// worker's thread pool; the HTTP client reuses connections across calls.
final class SESClient: Sendable {
    private let http: HTTPClient
    private let endpointOverride: [String: String]
    private let configurationSetName: String?

    init(http: HTTPClient, environment: [String: String], configurationSetName: String?) {
        self.http = http
        self.endpointOverride = environment.filter { $0.key.hasPrefix("AWS_ENDPOINT_URL") }
        self.configurationSetName = configurationSetName
    }

    struct Accepted: Equatable {
        var messageID: String
        var requestID: String?
    }

    func sendRawEmail(
        envelope: Envelope,
        message: ByteBuffer,
        credentials: SESCredentials,
        now: Int64
    ) -> Result<Accepted, SESFailure> {
        let time = UTCTime(epochSeconds: now)
        guard let key = credentials.signingKey(forDate: time.dateStamp) else {
            return .failure(.credentialsUnavailable("no signing key for \(time.dateStamp)"))
        }
        let endpoint: AWSEndpoint
        do {
            endpoint = try AWSEndpoint.ses(environment: endpointOverride, region: credentials.region)
        } catch {
            return .failure(.transport(code: "endpoint", requestSent: false, detail: "\(error)"))
        }
        let body = SendRawEmailRequest.body(envelope: envelope, message: message, configurationSetName: configurationSetName)
        let headers = SigV4.signedQueryHeaders(
            endpoint: endpoint, body: body, accessKeyID: credentials.accessKeyID, signingKey: key.key,
            sessionToken: credentials.sessionToken, time: time,
            scope: SigV4.Scope(date: time.dateStamp, region: credentials.region, service: "ses"))

        let response: HTTPResponse
        do {
            response = try http.perform(HTTPRequest(method: "POST", url: endpoint.url, headers: headers, body: body))
        } catch {
            return .failure(.transport(code: "\(error.code)", requestSent: error.requestSent, detail: error.detail))
        }
        return Self.interpret(response)
    }

    /// 200 with a MessageId is the only success; anything else is a failure with SES's code if any.
    static func interpret(_ response: HTTPResponse) -> Result<Accepted, SESFailure> {
        let requestID = XMLText.first("RequestId", in: response.body)
        if response.status == 200 {
            guard let messageID = XMLText.first("MessageId", in: response.body), !messageID.isEmpty else {
                return .failure(.missingMessageID(status: response.status))
            }
            return .success(Accepted(messageID: messageID, requestID: requestID))
        }
        return .failure(
            .api(
                status: response.status,
                code: XMLText.first("Code", in: response.body) ?? "",
                message: XMLText.first("Message", in: response.body) ?? "",
                requestID: requestID
            )
        )
    }
}

extension AWSEndpoint {
    /// SES v1 (`email.{region}.amazonaws.com`), or `AWS_ENDPOINT_URL_SES` / `AWS_ENDPOINT_URL`.
    static func ses(environment: [String: String], region: String) throws(Problem) -> AWSEndpoint {
        try resolve(serviceID: "SES", hostPrefix: "email", environment: environment, region: region)
    }
}
