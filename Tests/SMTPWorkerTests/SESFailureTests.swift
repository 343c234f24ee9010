import HTTPTransport
import Shared
import SMTPCore
import Testing

@testable import smtp_worker

/// The one table from an SES outcome to the SMTP reply: 5xx only where SES refused this message
/// for good, 4xx wherever trying later can succeed.
struct SESFailureTests {
    static func api(_ status: Int, _ code: String, _ message: String = "") -> SESFailure {
        .api(status: status, code: code, message: message, requestID: "r")
    }

    @Test(arguments: [
        (api(400, "Throttling", "Maximum sending rate exceeded."), 451, SendFailureType.throttled),
        (api(400, "Throttling", "Daily message quota exceeded."), 451, .throttled),
        (api(429, "TooManyRequestsException"), 451, .throttled),
        (api(400, "MessageRejected", "Email address is not verified."), 554, .rejected),
        (api(400, "InvalidParameterValue", "Message length is more than 10485760 bytes long: '12078147'."), 552, .tooLarge),
        (api(400, "InvalidParameterValue", "Recipient count exceeds 50."), 554, .invalid),
        (api(400, "InvalidParameterValue", "Missing final '@domain'"), 554, .invalid),
        (api(400, "ConfigurationSetDoesNotExist"), 451, .configuration),
        (api(400, "AccountSendingPausedException"), 451, .configuration),
        (api(400, "MailFromDomainNotVerifiedException"), 451, .configuration),
        (api(403, "SignatureDoesNotMatch"), 451, .credentials),
        (api(403, "InvalidClientTokenId"), 451, .credentials),
        (api(400, "ExpiredToken"), 451, .credentials),
        (api(400, "RequestExpired"), 451, .credentials),
        (api(403, "AccessDenied"), 451, .credentials),
        (api(500, "InternalFailure"), 451, .sesUnavailable),
        (api(503, "ServiceUnavailable"), 451, .sesUnavailable),
        (api(502, ""), 451, .sesUnavailable),
        (api(400, "SomethingNew"), 451, .unknown),
        (.transport(code: "connect", requestSent: false, detail: "refused"), 451, .network),
        (.transport(code: "timeout", requestSent: true, detail: "timed out"), 451, .network),
        (.missingMessageID(status: 200), 451, .sesUnavailable),
        (.credentialsUnavailable("agent gone"), 451, .credentials),
    ])
    func failureMapsToReply(_ failure: SESFailure, _ code: Int, _ type: SendFailureType) {
        let disposition = failure.disposition
        #expect(disposition.reply.code == code)
        #expect(disposition.failureType == type)
        let enhanced = disposition.reply.lines.first?.split(separator: " ").first ?? ""
        #expect(enhanced.first == (code < 500 ? "4" : "5"), "enhanced code class matches the reply")
    }

    @Test func replyTextNeverCarriesSESMessageText() {
        let failure = Self.api(400, "MessageRejected", "secret-ish detail\r\n250 ok")
        #expect(!failure.disposition.reply.wireText.contains("secret-ish"))
    }

    @Test func successNeedsAMessageID() {
        let noID = HTTPResponse(status: 200, body: Array("<SendRawEmailResponse><SendRawEmailResult/></SendRawEmailResponse>".utf8))
        #expect(SESClient.interpret(noID) == .failure(.missingMessageID(status: 200)))
        let withID = HTTPResponse(
            status: 200,
            body: Array(
                "<SendRawEmailResponse><SendRawEmailResult><MessageId>m-1</MessageId></SendRawEmailResult><ResponseMetadata><RequestId>r-1</RequestId></ResponseMetadata></SendRawEmailResponse>".utf8))
        #expect(SESClient.interpret(withID) == .success(.init(messageID: "m-1", requestID: "r-1")))
    }

    @Test func errorDocumentIsRead() {
        let body = "<ErrorResponse><Error><Type>Sender</Type><Code>Throttling</Code><Message>Maximum sending rate exceeded.</Message></Error><RequestId>r-2</RequestId></ErrorResponse>"
        let response = HTTPResponse(status: 400, body: Array(body.utf8))
        #expect(SESClient.interpret(response) == .failure(Self.api(400, "Throttling", "Maximum sending rate exceeded.").withRequestID("r-2")))
    }
}

extension SESFailure {
    fileprivate func withRequestID(_ id: String) -> SESFailure {
        guard case .api(let status, let code, let message, _) = self else { return self }
        return .api(status: status, code: code, message: message, requestID: id)
    }
}
