import HTTPTransport
import NIOCore
import Shared
import SMTPCore
import Testing

@testable import smtp_worker

/// The one table from an SES outcome to the SMTP reply: 5xx only where SES refused this message
/// for good, 4xx wherever trying later can succeed; and which failures are tried again at once.
struct SESFailureTests {
    static func api(_ status: Int, _ code: String, _ message: String = "") -> SESFailure {
        .api(status: status, code: code, message: message, requestID: "r")
    }

    @Test(arguments: [
        (api(400, "Throttling", "Maximum sending rate exceeded."), "451 4.7.0", SendFailureType.throttled),
        (api(400, "Throttling", "Daily message quota exceeded."), "451 4.7.0", .dailyQuota),
        (api(429, "TooManyRequestsException"), "451 4.7.0", .throttled),
        (api(429, ""), "451 4.7.0", .throttled),
        (api(400, "LimitExceededException"), "451 4.7.0", .throttled),
        (api(400, "MessageRejected", "Email address is not verified."), "554 5.7.1", .rejected),
        (api(400, "AccountSuspendedException"), "554 5.7.1", .accountSuspended),
        (api(400, "InvalidParameterValue", "Message length is more than 10485760 bytes long: '12078147'."), "552 5.3.4", .tooLarge),
        (api(400, "InvalidParameterValue", "Header section too long."), "552 5.3.4", .tooLarge),
        (api(400, "InvalidParameterValue", "Recipient count exceeds 50."), "554 5.5.3", .tooManyRecipients),
        (api(400, "InvalidParameterValue", "Missing final '@domain'"), "554 5.6.0", .invalid),
        (api(400, "InvalidParameterValue", "Illegal address"), "553 5.1.3", .invalidAddress),
        (api(400, "BadRequestException", "Too many recipients."), "554 5.5.3", .tooManyRecipients),
        (api(400, "ConfigurationSetDoesNotExist"), "451 4.3.5", .configurationSet),
        (api(404, "NotFoundException"), "451 4.3.5", .configurationSet),
        (api(400, "AccountSendingPausedException"), "451 4.3.2", .sendingPaused),
        (api(400, "ConfigurationSetSendingPausedException"), "451 4.3.2", .sendingPaused),
        (api(400, "SendingPausedException"), "451 4.3.2", .sendingPaused),
        (api(400, "MailFromDomainNotVerifiedException"), "451 4.4.3", .mailFromDomain),
        (api(403, "SignatureDoesNotMatch"), "451 4.7.0", .credentials),
        (api(403, "InvalidClientTokenId"), "451 4.7.0", .credentials),
        (api(400, "ExpiredToken"), "451 4.7.0", .credentials),
        (api(400, "RequestExpired"), "451 4.7.0", .credentials),
        (api(403, "AccessDenied"), "451 4.7.1", .accessDenied),
        (api(500, "InternalFailure"), "451 4.3.0", .sesUnavailable),
        (api(503, "ServiceUnavailable"), "451 4.3.0", .sesUnavailable),
        (api(502, ""), "451 4.3.0", .sesUnavailable),
        (api(400, "SomethingNew"), "451 4.3.0", .unknown),
        (.transport(code: "connect", requestSent: false, detail: "refused"), "451 4.4.1", .network),
        (.transport(code: "timeout", requestSent: true, detail: "timed out"), "451 4.4.2", .noAnswer),
        (.missingMessageID(status: 200), "451 4.3.0", .noMessageID),
        (.credentialsUnavailable("agent gone"), "451 4.7.0", .credentials),
        (.rateLimited(waitSeconds: 20), "451 4.7.0", .rateLimited),
    ])
    func failureMapsToReply(_ failure: SESFailure, _ reply: String, _ type: SendFailureType) {
        let disposition = failure.disposition
        let enhanced = disposition.reply.lines.first?.split(separator: " ").first ?? ""
        #expect("\(disposition.reply.code) \(enhanced)" == reply)
        #expect(disposition.failureType == type)
    }

    @Test(arguments: [
        (api(400, "Throttling", "Maximum sending rate exceeded."), 1000 as Int?),
        (api(429, "TooManyRequestsException"), 1000),
        (api(500, "InternalFailure"), 50),
        (api(503, ""), 50),
        (.transport(code: "connect", requestSent: false, detail: "refused"), 50),
        (api(400, "Throttling", "Daily message quota exceeded."), nil),
        (api(400, "MessageRejected"), nil),
        (api(403, "AccessDenied"), nil),
        (.transport(code: "timeout", requestSent: true, detail: "timed out"), nil),
        (.missingMessageID(status: 200), nil),
        (.rateLimited(waitSeconds: 1), nil),
    ])
    func onlyFailuresSESCertainlyDidNotActOnAreRetried(_ failure: SESFailure, _ baseMilliseconds: Int?) {
        #expect(failure.retryBase.map { Int($0.nanoseconds / 1_000_000) } == baseMilliseconds)
    }

    @Test func backoffIsFullJitterUnderTheCap() {
        for attempt in 1...30 {
            let ceiling = min(SESRelay.backoffCap.nanoseconds, TimeAmount.seconds(1).nanoseconds << Int64(min(attempt - 1, 20)))
            let delays = (0..<200).map { _ in SESRelay.backoff(base: .seconds(1), attempt: attempt).nanoseconds }
            #expect(delays.allSatisfy { (0...ceiling).contains($0) })
            #expect(Set(delays).count > 100, "jittered, not fixed")
        }
    }

    @Test func replyTextNeverCarriesSESMessageText() {
        let failure = Self.api(400, "MessageRejected", "secret-ish detail\r\n250 ok")
        #expect(!failure.disposition.reply.wireText.contains("secret-ish"))
    }

    @Test func v1SuccessNeedsAMessageID() {
        let noID = HTTPResponse(status: 200, body: Array("<SendRawEmailResponse><SendRawEmailResult/></SendRawEmailResponse>".utf8))
        #expect(SESClient.interpretV1(noID) == .failure(.missingMessageID(status: 200)))
        let withID = HTTPResponse(
            status: 200,
            body: Array(
                "<SendRawEmailResponse><SendRawEmailResult><MessageId>m-1</MessageId></SendRawEmailResult><ResponseMetadata><RequestId>r-1</RequestId></ResponseMetadata></SendRawEmailResponse>".utf8))
        #expect(SESClient.interpretV1(withID) == .success(.init(messageID: "m-1", requestID: "r-1")))
    }

    @Test func v1ErrorDocumentIsRead() {
        let body = "<ErrorResponse><Error><Type>Sender</Type><Code>Throttling</Code><Message>Maximum sending rate exceeded.</Message></Error><RequestId>r-2</RequestId></ErrorResponse>"
        let response = HTTPResponse(status: 400, body: Array(body.utf8))
        #expect(SESClient.interpretV1(response) == .failure(.api(status: 400, code: "Throttling", message: "Maximum sending rate exceeded.", requestID: "r-2")))
    }

    @Test func v2SuccessNeedsAMessageID() {
        let ok = HTTPResponse(status: 200, headers: [("x-amzn-requestid", "r-3")], body: Array(#"{"MessageId":"m-2"}"#.utf8))
        #expect(SESClient.interpretV2(ok) == .success(.init(messageID: "m-2", requestID: "r-3")))
        for body in ["{}", #"{"MessageId":""}"#, "<xml/>", #"{"MessageId":7}"#] {
            #expect(SESClient.interpretV2(HTTPResponse(status: 200, body: Array(body.utf8))) == .failure(.missingMessageID(status: 200)))
        }
    }

    @Test func v2ErrorCodeComesFromTheHeaderOrTheBody() {
        let header = HTTPResponse(
            status: 429, headers: [("x-amzn-errortype", "TooManyRequestsException:http://internal.amazon.com/coral/")],
            body: Array(#"{"message":"Maximum sending rate exceeded."}"#.utf8))
        #expect(SESClient.v2Error(header) == .api(status: 429, code: "TooManyRequestsException", message: "Maximum sending rate exceeded.", requestID: nil))
        let typed = HTTPResponse(status: 400, body: Array(#"{"__type":"com.amazon#MessageRejected","Message":"no"}"#.utf8))
        #expect(SESClient.v2Error(typed) == .api(status: 400, code: "MessageRejected", message: "no", requestID: nil))
        let garbage = HTTPResponse(status: 503, body: Array("<html>".utf8))
        #expect(SESClient.v2Error(garbage) == .api(status: 503, code: "", message: "", requestID: nil))
    }
}

struct SendRateLimiterTests {
    static let start = NIODeadline.uptimeNanoseconds(1_000_000_000_000)

    @Test func noRateMeansNoWait() {
        let limiter = SendRateLimiter(rate: nil)
        for _ in 0..<1000 { #expect(limiter.reserve(recipients: 50, now: Self.start, maxWait: .zero) == .after(.zero)) }
    }

    @Test func oneSecondOfBurstThenOneRecipientPerInterval() {
        let limiter = SendRateLimiter(rate: 2)
        #expect(limiter.reserve(recipients: 1, now: Self.start, maxWait: .seconds(10)) == .after(.zero))
        #expect(limiter.reserve(recipients: 1, now: Self.start, maxWait: .seconds(10)) == .after(.zero))
        #expect(limiter.reserve(recipients: 1, now: Self.start, maxWait: .seconds(10)) == .after(.milliseconds(500)))
        #expect(limiter.reserve(recipients: 2, now: Self.start, maxWait: .seconds(10)) == .after(.milliseconds(1500)))
        // Refused turns are not counted: the next one is where it would have been.
        #expect(limiter.reserve(recipients: 1, now: Self.start, maxWait: .milliseconds(100)) == .refused(wait: .milliseconds(2000)))
        #expect(limiter.reserve(recipients: 1, now: Self.start, maxWait: .seconds(10)) == .after(.milliseconds(2000)))
        // Time passing refills the bucket, no further than full.
        #expect(limiter.reserve(recipients: 2, now: Self.start + .seconds(60), maxWait: .zero) == .after(.zero))
        #expect(limiter.reserve(recipients: 1, now: Self.start + .seconds(60), maxWait: .zero) == .refused(wait: .milliseconds(500)))
    }

    @Test func aMessageBiggerThanTheBucketWaitsForAFullOneAndLeavesDebt() {
        let limiter = SendRateLimiter(rate: 1)
        #expect(limiter.reserve(recipients: 50, now: Self.start, maxWait: .zero) == .after(.zero))
        #expect(limiter.reserve(recipients: 1, now: Self.start, maxWait: .seconds(60)) == .after(.seconds(50)))
    }

    @Test func fractionalRatesWork() {
        let limiter = SendRateLimiter(rate: 0.5)
        #expect(limiter.reserve(recipients: 1, now: Self.start, maxWait: .zero) == .after(.zero))
        #expect(limiter.reserve(recipients: 1, now: Self.start, maxWait: .seconds(5)) == .after(.seconds(2)))
    }
}
