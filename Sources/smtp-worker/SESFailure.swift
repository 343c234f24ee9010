import Shared
import SMTPCore

/// Every way a SendRawEmail can fail, as the worker sees it. Mapped to SMTP replies in one table
/// (`SESFailure.disposition`).
enum SESFailure: Error, Equatable {
    /// SES answered with an error document.
    case api(status: Int, code: String, message: String, requestID: String?)
    /// SES answered 200 without a MessageId: we cannot claim the message was accepted.
    case missingMessageID(status: Int)
    /// No HTTP answer. `requestSent` false: certainly not delivered.
    case transport(code: String, requestSent: Bool, detail: String)
    /// The agent had no credentials to give, or did not answer in time.
    case credentialsUnavailable(String)
}

/// What the client is told, how the failure is counted, and whether it is worth a warning in the logs.
struct SESDisposition: Equatable {
    var reply: SMTPReply
    var failureType: Shared.SendFailureType
}


extension SESFailure {
    /// The one table from SES outcome to SMTP reply (SES-FACTS §4). Temporary (4xx) wherever trying
    /// again later can succeed; permanent (5xx) only where SES refused this message for good.
    var disposition: SESDisposition {
        switch self {
        case .credentialsUnavailable:
            return SESDisposition(reply: SMTPReply(451, "4.7.0", "SES credentials unavailable; try again later"), failureType: .credentials)
        case .transport(_, _, _):
            return SESDisposition(reply: SMTPReply(451, "4.4.1", "No answer from SES; try again later"), failureType: .network)
        case .missingMessageID:
            return SESDisposition(reply: SMTPReply(451, "4.3.0", "SES gave no message id; try again later"), failureType: .sesUnavailable)
        case .api(let status, let code, let message, _):
            return Self.apiDisposition(status: status, code: code, message: message)
        }
    }

    private static func apiDisposition(status: Int, code: String, message: String) -> SESDisposition {
        switch code {
        case "Throttling", "ThrottlingException", "TooManyRequestsException":
            let daily = message.contains("Daily message quota")
            return SESDisposition(
                reply: SMTPReply(451, "4.7.0", daily ? "SES daily sending quota exceeded; try again later" : "SES sending rate exceeded; try again later"),
                failureType: .throttled
            )
        case "MessageRejected":
            return SESDisposition(reply: SMTPReply(554, "5.7.1", "Message rejected by SES"), failureType: .rejected)
        case "MailFromDomainNotVerifiedException":
            return SESDisposition(reply: SMTPReply(451, "4.4.3", "SES could not verify the MAIL FROM domain; try again later"), failureType: .configuration)
        case "ConfigurationSetDoesNotExist", "ConfigurationSetDoesNotExistException":
            return SESDisposition(reply: SMTPReply(451, "4.3.5", "SES configuration set does not exist; fix the relay's configuration"), failureType: .configuration)
        case "AccountSendingPausedException", "ConfigurationSetSendingPausedException":
            return SESDisposition(reply: SMTPReply(451, "4.3.2", "SES sending is paused; try again later"), failureType: .configuration)
        case "InvalidParameterValue":
            if message.contains("Message length") || message.contains("too long") {
                return SESDisposition(reply: .messageTooLarge, failureType: .tooLarge)
            }
            if message.contains("Recipient count") {
                return SESDisposition(reply: SMTPReply(554, "5.5.3", "Too many recipients for SES"), failureType: .invalid)
            }
            if message.lowercased().contains("address") {
                return SESDisposition(reply: SMTPReply(553, "5.1.3", "SES refused an address as invalid"), failureType: .invalid)
            }
            return SESDisposition(reply: SMTPReply(554, "5.6.0", "SES refused the message as invalid"), failureType: .invalid)
        case "InvalidClientTokenId", "SignatureDoesNotMatch", "IncompleteSignature", "MissingAuthenticationToken",
            "ExpiredToken", "ExpiredTokenException", "RequestExpired", "UnrecognizedClientException":
            return SESDisposition(reply: SMTPReply(451, "4.7.0", "SES did not accept the relay's credentials; try again later"), failureType: .credentials)
        case "AccessDenied", "AccessDeniedException":
            // Temporary: new IAM permissions take seconds to propagate (eventual consistency).
            return SESDisposition(reply: SMTPReply(451, "4.7.1", "The relay is not allowed to send through SES; try again later"), failureType: .credentials)
        default:
            // Unknown codes and SES's own failures (InternalFailure, ServiceUnavailable, 5xx) are
            // temporary: a wrong 5xx loses mail for good, a wrong 4xx only delays it.
            let failure: SendFailureType = status >= 500 ? .sesUnavailable : .unknown
            return SESDisposition(reply: SMTPReply(451, "4.3.0", "SES failed temporarily; try again later"), failureType: failure)
        }
    }
}
