import NIOCore
import Shared
import SMTPCore

/// Every way a send can fail, as the worker sees it. Mapped to SMTP replies in one table
/// (`SESFailure.disposition`), and to whether another attempt is worth it (`retryBase`).
enum SESFailure: Error, Equatable {
    /// SES answered with an error document (v1 XML, v2 JSON and `x-amzn-ErrorType`).
    case api(status: Int, code: String, message: String, requestID: String?)
    /// SES answered 200 without a MessageId: we cannot claim the message was accepted.
    case missingMessageID(status: Int)
    /// No HTTP answer. `requestSent` false: certainly not delivered; true: SES may have it.
    case transport(code: String, requestSent: Bool, detail: String)
    /// The agent had no credentials to give, or did not answer in time.
    case credentialsUnavailable(String)
    /// `--max-send-rate`: the message's turn would come later than it may wait.
    case rateLimited(waitSeconds: Double)
    /// With v2, an `X-SES-*` header that cannot become an API parameter.
    case unliftableHeader(LiftedSESHeaders.Problem)
}

/// What the client is told and how the failure is counted (the `type` label).
struct SESDisposition: Equatable {
    var reply: SMTPReply
    var failureType: Shared.SendFailureType

    init(_ code: Int, _ enhanced: String, _ text: String, _ failureType: Shared.SendFailureType) {
        reply = SMTPReply(code, enhanced, text)
        self.failureType = failureType
    }
}

extension SESFailure {
    /// The one table from SES outcome to SMTP reply (SES-FACTS §3, §4). Temporary (4xx) wherever
    /// trying again later can succeed; permanent (5xx) only where SES refused this message for good:
    /// a wrong 5xx loses mail, a wrong 4xx only delays it.
    var disposition: SESDisposition {
        switch self {
        case .credentialsUnavailable:
            return SESDisposition(451, "4.7.0", "SES credentials unavailable; try again later", .credentials)
        case .transport(_, false, _):
            return SESDisposition(451, "4.4.1", "No connection to SES; try again later", .network)
        case .transport(_, true, _):
            // SES may have the message; the client's retry may send it twice, which beats losing it.
            return SESDisposition(451, "4.4.2", "No answer from SES; try again later", .noAnswer)
        case .missingMessageID:
            return SESDisposition(451, "4.3.0", "SES gave no message id; try again later", .noMessageID)
        case .rateLimited:
            return SESDisposition(451, "4.7.0", "Relay sending rate limit reached; try again later", .rateLimited)
        case .unliftableHeader(let problem):
            return SESDisposition(554, "5.6.0", "Message refused: \(problem.replyText)", .invalid)
        case .api(let status, let code, let message, _):
            return Self.apiDisposition(status: status, code: code, message: message)
        }
    }

    private static func apiDisposition(status: Int, code: String, message: String) -> SESDisposition {
        if isThrottling(code: code, status: status) {
            return message.contains("Daily message quota")
                ? SESDisposition(451, "4.7.0", "SES daily sending quota exceeded; try again later", .dailyQuota)
                : SESDisposition(451, "4.7.0", "SES sending rate exceeded; try again later", .throttled)
        }
        switch code {
        case "MessageRejected":
            return SESDisposition(554, "5.7.1", "Message rejected by SES", .rejected)
        case "AccountSuspendedException":
            return SESDisposition(554, "5.7.1", "SES account suspended: sending is permanently restricted", .accountSuspended)
        case "MailFromDomainNotVerifiedException":
            // SES could not read the MAIL FROM domain's MX record: DNS, which may recover.
            return SESDisposition(451, "4.4.3", "SES could not verify the MAIL FROM domain; try again later", .mailFromDomain)
        case "ConfigurationSetDoesNotExist", "ConfigurationSetDoesNotExistException", "NotFoundException":
            return SESDisposition(451, "4.3.5", "SES configuration set does not exist; fix the relay's configuration", .configurationSet)
        case "AccountSendingPausedException", "ConfigurationSetSendingPausedException", "SendingPausedException":
            return SESDisposition(451, "4.3.2", "SES sending is paused; try again later", .sendingPaused)
        case "InvalidParameterValue", "BadRequestException", "ValidationError", "InvalidParameterCombination", "MissingParameter":
            if message.contains("Message length") || message.contains("too long") || message.contains("size") {
                return SESDisposition(552, "5.3.4", "Message too big for SES", .tooLarge)
            }
            if message.contains("Recipient count") || message.contains("Too many recipients") {
                return SESDisposition(554, "5.5.3", "Too many recipients for SES", .tooManyRecipients)
            }
            if message.lowercased().contains("address") {
                return SESDisposition(553, "5.1.3", "SES refused an address as invalid", .invalidAddress)
            }
            return SESDisposition(554, "5.6.0", "SES refused the message as invalid", .invalid)
        case "InvalidClientTokenId", "SignatureDoesNotMatch", "IncompleteSignature", "MissingAuthenticationToken",
            "ExpiredToken", "ExpiredTokenException", "RequestExpired", "UnrecognizedClientException":
            return SESDisposition(451, "4.7.0", "SES did not accept the relay's credentials; try again later", .credentials)
        case "AccessDenied", "AccessDeniedException":
            // Temporary: new IAM permissions take seconds to propagate (eventual consistency).
            return SESDisposition(451, "4.7.1", "The relay is not allowed to send through SES; try again later", .accessDenied)
        default:
            // Unknown codes and SES's own failures (InternalFailure, ServiceUnavailable, 5xx).
            return status >= 500
                ? SESDisposition(451, "4.3.0", "SES failed temporarily; try again later", .sesUnavailable)
                : SESDisposition(451, "4.3.0", "SES refused the request for an unknown reason; try again later", .unknown)
        }
    }

    /// SES's throttling answers: v1 `Throttling` (400), v2 `TooManyRequestsException` (429) and
    /// `LimitExceededException`, which the SDKs treat as throttling too (SES-FACTS §7).
    private static func isThrottling(code: String, status: Int) -> Bool {
        ["Throttling", "ThrottlingException", "TooManyRequestsException", "LimitExceededException"].contains(code)
            || (code.isEmpty && status == 429)
    }

    /// The base of the full-jitter backoff when another attempt inside the transaction is safe and
    /// can help: SES certainly did not act on this request (no connection, HTTP 5xx, throttled) and
    /// the cause is short-lived. Nil otherwise: a daily quota lasts hours, and an unanswered request
    /// may have been sent (SES-FACTS §7: 50 ms for transient errors, 1 s for throttling).
    var retryBase: TimeAmount? {
        switch self {
        case .transport(_, false, _):
            return .milliseconds(50)
        case .api(let status, let code, let message, _):
            if Self.isThrottling(code: code, status: status) {
                return message.contains("Daily message quota") ? nil : .seconds(1)
            }
            return status >= 500 ? .milliseconds(50) : nil
        case .transport(_, true, _), .missingMessageID, .credentialsUnavailable, .rateLimited, .unliftableHeader:
            return nil
        }
    }

    /// An answer from SES itself, counted in `smtpd_ses_error_total`.
    var isSESAnswer: Bool {
        switch self {
        case .api, .missingMessageID: true
        default: false
        }
    }
}
