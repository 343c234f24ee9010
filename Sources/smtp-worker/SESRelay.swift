import Logging
import NIOCore
import NIOPosix
import Shared
import SMTPCore

#if canImport(Glibc)
import Glibc
#endif

/// One message from the end of DATA to the SMTP reply, within `--ses-timeout`: its turn under
/// `--max-send-rate`, the request built once, attempts through the HTTP client's transfer thread with
/// full-jitter backoff between them, the reply from the mapping table, one log line, the metrics.
final class SESRelay: Sendable {
    private let client: SESClient
    private let credentials: CredentialProvider
    private let threadPool: NIOThreadPool
    private let control: ControlClient
    private let limiter: SendRateLimiter
    private let timeout: TimeAmount
    private let logger: Logger

    /// SDK standard mode: three attempts in all, backoff capped at 20 s (SES-FACTS §7).
    static let maxAttempts = 3
    static let backoffCap = TimeAmount.seconds(20)
    /// A retry that would leave less than this before the deadline is not started.
    static let minimumAttemptTime = TimeAmount.milliseconds(500)

    init(
        client: SESClient,
        credentials: CredentialProvider,
        threadPool: NIOThreadPool,
        control: ControlClient,
        limiter: SendRateLimiter,
        timeout: TimeAmount,
        logger: Logger
    ) {
        self.client = client
        self.credentials = credentials
        self.threadPool = threadPool
        self.control = control
        self.limiter = limiter
        self.timeout = timeout
        self.logger = logger
    }

    private struct Outcome {
        var result: Result<SESClient.Accepted, SESFailure>
        var attempts: Int
    }

    /// `trace`: the Received header to send in front of the message, if any.
    func relay(
        _ envelope: Envelope, trace: ByteBuffer?, message: MessageBody, sessionID: String, on eventLoop: EventLoop
    ) -> EventLoopFuture<SMTPReply> {
        let started = NIODeadline.now()
        let deadline = started + timeout
        let size = message.readableBytes + (trace?.readableBytes ?? 0)
        let finish: @Sendable (Outcome) -> SMTPReply = { outcome in
            self.finish(outcome, envelope: envelope, size: size, sessionID: sessionID)
        }
        // Half the budget at most goes to waiting for a turn; the rest is for SES.
        let turn: TimeAmount
        switch limiter.reserve(recipients: envelope.recipients.count, now: started, maxWait: .nanoseconds(timeout.nanoseconds / 2)) {
        case .refused(let wait):
            let seconds = Double(wait.nanoseconds) / 1e9
            return eventLoop.makeSucceededFuture(finish(Outcome(result: .failure(.rateLimited(waitSeconds: seconds)), attempts: 0)))
        case .after(let wait):
            turn = wait
        }
        let attempts: EventLoopFuture<Outcome>
        if turn == .zero {
            attempts = attempt(1, envelope, trace, message, prepared: nil, deadline: deadline, on: eventLoop)
        } else {
            attempts = eventLoop.scheduleTask(deadline: started + turn) {}.futureResult.flatMap {
                self.attempt(1, envelope, trace, message, prepared: nil, deadline: deadline, on: eventLoop)
            }
        }
        return attempts.map(finish)
    }

    /// The first attempt builds the request (`request(…)`); retries reuse it.
    private func attempt(
        _ number: Int,
        _ envelope: Envelope,
        _ trace: ByteBuffer?,
        _ message: MessageBody,
        prepared: SESSendRequest?,
        deadline: NIODeadline,
        on eventLoop: EventLoop
    ) -> EventLoopFuture<Outcome> {
        let now = Int64(time(nil))
        let client = self.client
        return credentials.credentials(now: now, on: eventLoop)
            .flatMap { credentials in
                self.request(prepared, envelope, trace, message, on: eventLoop).flatMap { made in
                    let request: SESSendRequest
                    switch made {
                    case .success(let built): request = built
                    case .failure(let failure): return eventLoop.makeSucceededFuture((nil, .failure(failure)))
                    }
                    let remaining = (deadline - NIODeadline.now()).nanoseconds / 1_000_000
                    guard remaining > 0 else {
                        let late = SESFailure.transport(code: "deadline", requestSent: false, detail: "--ses-timeout passed before the request was sent")
                        return eventLoop.makeSucceededFuture((request, .failure(late)))
                    }
                    return client.send(request, credentials: credentials, now: now, timeoutMilliseconds: Int(remaining), on: eventLoop)
                        .map { (request, $0) }
                }
            }
            .flatMapErrorThrowing { error -> (SESSendRequest?, Result<SESClient.Accepted, SESFailure>) in
                (prepared, .failure(error as? SESFailure ?? .credentialsUnavailable("\(error)")))
            }
            .flatMap { request, result in
                guard case .failure(let failure) = result else {
                    return eventLoop.makeSucceededFuture(Outcome(result: result, attempts: number))
                }
                if failure.isSESAnswer { self.control.count(.sesError) }
                guard number < Self.maxAttempts, let base = failure.retryBase, let request else {
                    return eventLoop.makeSucceededFuture(Outcome(result: result, attempts: number))
                }
                let delay = Self.backoff(base: base, attempt: number)
                guard NIODeadline.now() + delay + Self.minimumAttemptTime <= deadline else {
                    return eventLoop.makeSucceededFuture(Outcome(result: result, attempts: number))
                }
                self.control.count(.sesRetry)
                self.logger.info(
                    "SES attempt failed, trying again",
                    metadata: ["attempt": "\(number)", "delay_ms": "\(delay.nanoseconds / 1_000_000)", "failure": "\(failure)"])
                return eventLoop.scheduleTask(in: delay) {}.futureResult.flatMap {
                    self.attempt(number + 1, envelope, trace, message, prepared: request, deadline: deadline, on: eventLoop)
                }
            }
    }

    /// A message held in memory (at most the spool's memory limit, 256 KiB) is encoded and hashed on
    /// the event loop, in well under a millisecond; a spooled one on the thread pool, which reads its
    /// file from disk.
    private func request(
        _ prepared: SESSendRequest?, _ envelope: Envelope, _ trace: ByteBuffer?, _ message: MessageBody, on eventLoop: EventLoop
    ) -> EventLoopFuture<Result<SESSendRequest, SESFailure>> {
        if let prepared { return eventLoop.makeSucceededFuture(.success(prepared)) }
        let client = self.client
        guard message.spooled != nil else {
            return eventLoop.makeSucceededFuture(client.prepare(envelope: envelope, trace: trace, message: message))
        }
        return threadPool.runIfActive(eventLoop: eventLoop) { client.prepare(envelope: envelope, trace: trace, message: message) }
    }

    /// Full jitter: uniform in [0, min(cap, base × 2^(attempt−1))].
    static func backoff(base: TimeAmount, attempt: Int) -> TimeAmount {
        let ceiling = min(backoffCap.nanoseconds, base.nanoseconds << Int64(min(attempt - 1, 20)))
        return .nanoseconds(Int64.random(in: 0...max(0, ceiling)))
    }

    private func finish(_ outcome: Outcome, envelope: Envelope, size: Int, sessionID: String) -> SMTPReply {
        var metadata: Logger.Metadata = [
            "session_id": "\(sessionID)", "size": "\(size)", "recipients": "\(envelope.recipients.count)",
            "attempts": "\(outcome.attempts)",
        ]
        switch outcome.result {
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
            case .transport(let code, let requestSent, let detail):
                metadata["transport"] = "\(code)"
                metadata["request_sent"] = "\(requestSent)"
                metadata["detail"] = "\(detail)"
            case .missingMessageID(let status):
                metadata["ses_status"] = "\(status)"
            case .credentialsUnavailable(let detail):
                metadata["detail"] = "\(detail)"
            case .rateLimited(let waitSeconds):
                metadata["wait_needed_s"] = "\(waitSeconds)"
            case .unliftableHeader(let problem):
                metadata["detail"] = "\(problem.detail)"
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
