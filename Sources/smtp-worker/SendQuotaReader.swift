import Logging
import NIOCore

#if canImport(Glibc)
import Glibc
#endif

/// `--max-send-rate auto`: the account's MaxSendRate, read with the worker's credentials at start
/// (failing the start, so the relay never sends unlimited by accident) and every 10 minutes after
/// (a failure then is logged and the last rate kept).
struct SendQuotaReader: Sendable {
    let client: SESClient
    let credentials: CredentialProvider
    let limiter: SendRateLimiter
    let logger: Logger

    static let interval = TimeAmount.minutes(10)
    static let requestTimeoutMilliseconds = 10_000

    func start(on eventLoop: EventLoop) async throws {
        do {
            let rate = try await read(on: eventLoop).get()
            limiter.setRate(rate)
            logger.notice("sending rate from SES", metadata: ["max_send_rate": "\(rate)", "unit": "recipients/s"])
        } catch {
            throw WorkerError(description: "--max-send-rate auto: cannot read the account's sending rate: \(error)")
        }
        eventLoop.scheduleRepeatedAsyncTask(initialDelay: Self.interval, delay: Self.interval) { _ in
            read(on: eventLoop).map { rate in
                if rate != limiter.rate {
                    logger.notice("sending rate from SES changed", metadata: ["max_send_rate": "\(rate)", "unit": "recipients/s"])
                }
                limiter.setRate(rate)
            }.recover { error in
                logger.warning(
                    "cannot read the account's sending rate; keeping the last one",
                    metadata: ["error": "\(error)", "max_send_rate": "\(limiter.rate.map { "\($0)" } ?? "none")"])
            }
        }
    }

    private func read(on eventLoop: EventLoop) -> EventLoopFuture<Double> {
        let now = Int64(time(nil))
        let client = self.client
        return credentials.credentials(now: now, on: eventLoop).flatMap { credentials in
            client.maxSendRate(credentials: credentials, now: now, timeoutMilliseconds: Self.requestTimeoutMilliseconds, on: eventLoop)
        }.flatMapResult { answer -> Result<Double, SESClient.QuotaReadError> in
            switch answer {
            case .success(let rate) where rate > 0: .success(rate)
            case .success(let rate): .failure(SESClient.QuotaReadError(description: "SES reports MaxSendRate \(rate)"))
            case .failure(let error): .failure(error)
            }
        }
    }
}
