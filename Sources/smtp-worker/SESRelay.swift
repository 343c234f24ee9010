import Logging
import NIOCore
import NIOPosix
import Shared
import SMTPCore

#if canImport(Glibc)
import Glibc
#endif

/// One message from the end of DATA to the SMTP reply: credentials, SendRawEmail on the thread pool,
/// the reply from the mapping table, one log line and the metrics.
final class SESRelay: Sendable {
    private let client: SESClient
    private let credentials: CredentialProvider
    private let threadPool: NIOThreadPool
    private let control: ControlClient
    private let logger: Logger

    init(client: SESClient, credentials: CredentialProvider, threadPool: NIOThreadPool, control: ControlClient, logger: Logger) {
        self.client = client
        self.credentials = credentials
        self.threadPool = threadPool
        self.control = control
        self.logger = logger
    }

    func relay(_ envelope: Envelope, message: ByteBuffer, sessionID: String, on eventLoop: EventLoop) -> EventLoopFuture<SMTPReply> {
        let now = Int64(time(nil))
        let client = self.client
        return credentials.credentials(now: now, on: eventLoop)
            .flatMap { credentials in
                self.threadPool.runIfActive(eventLoop: eventLoop) {
                    client.sendRawEmail(envelope: envelope, message: message, credentials: credentials, now: now)
                }
            }
            .flatMapErrorThrowing { error -> Result<SESClient.Accepted, SESFailure> in
                .failure(error as? SESFailure ?? .credentialsUnavailable("\(error)"))
            }
            .map { result in self.finish(result, envelope: envelope, size: message.readableBytes, sessionID: sessionID) }
    }

    private func finish(
        _ result: Result<SESClient.Accepted, SESFailure>,
        envelope: Envelope,
        size: Int,
        sessionID: String
    ) -> SMTPReply {
        var metadata: Logger.Metadata = [
            "session_id": "\(sessionID)", "size": "\(size)", "recipients": "\(envelope.recipients.count)",
        ]
        switch result {
        case .success(let accepted):
            metadata["message_id"] = "\(accepted.messageID)"
            if let requestID = accepted.requestID { metadata["ses_request_id"] = "\(requestID)" }
            logger.info("message relayed", metadata: metadata)
            control.count(.sendSuccess)
            return .queued(messageID: accepted.messageID)
        case .failure(let failure):
            let disposition = failure.disposition
            metadata["reply"] = "\(disposition.reply.code)"
            metadata["failure"] = "\(disposition.failureType.label)"
            switch failure {
            case .api(let status, let code, let message, let requestID):
                metadata["ses_status"] = "\(status)"
                metadata["ses_code"] = "\(code)"
                metadata["ses_message"] = "\(message)"
                if let requestID { metadata["ses_request_id"] = "\(requestID)" }
                control.count(.sesError)
            case .transport(let code, let requestSent, let detail):
                metadata["transport"] = "\(code)"
                metadata["request_sent"] = "\(requestSent)"
                metadata["detail"] = "\(detail)"
            case .missingMessageID(let status):
                metadata["ses_status"] = "\(status)"
                control.count(.sesError)
            case .credentialsUnavailable(let detail):
                metadata["detail"] = "\(detail)"
            }
            if disposition.reply.isTemporary {
                logger.warning("message not relayed, client told to retry", metadata: metadata)
            } else {
                logger.info("message rejected", metadata: metadata)
            }
            control.count(.sendFailure(disposition.failureType))
            return disposition.reply
        }
    }
}
