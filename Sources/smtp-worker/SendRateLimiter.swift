import NIOCore
import Synchronization

/// `--max-send-rate`: recipients per second, SES's unit (every recipient counts against the
/// account's MaxSendRate). A token bucket holding one second of sending (at least one recipient),
/// kept as the time at which it is full again (virtual scheduling), so a decision costs no timer and
/// messages are served in the order they arrive. A message with more recipients than the bucket
/// holds waits for a full bucket and leaves it in debt, which the next messages wait out.
final class SendRateLimiter: Sendable {
    private struct State {
        /// Recipients per second; nil: no limit (yet).
        var rate: Double?
        var fullAt = NIODeadline.uptimeNanoseconds(0)
    }

    private let state: Mutex<State>

    init(rate: Double?) {
        state = Mutex(State(rate: rate))
    }

    var rate: Double? { state.withLock { $0.rate } }

    func setRate(_ rate: Double?) {
        state.withLock { $0.rate = rate }
    }

    enum Decision: Equatable {
        /// Send once this much time has passed (zero: now). The recipients are counted already.
        case after(TimeAmount)
        /// Its turn would come after `wait`, longer than it may wait; nothing was counted.
        case refused(wait: TimeAmount)
    }

    func reserve(recipients: Int, now: NIODeadline, maxWait: TimeAmount) -> Decision {
        state.withLock { state in
            guard let rate = state.rate, rate > 0 else { return .after(.zero) }
            let capacity = max(rate, 1)
            let nanosecondsPerRecipient = 1e9 / rate
            let needed = min(Double(recipients), capacity)
            // The bucket holds `needed` tokens once it is this close to full.
            let slack = TimeAmount.nanoseconds(Int64((capacity - needed) * nanosecondsPerRecipient))
            let start = max(now, state.fullAt - slack)
            let wait = start - now
            guard wait <= maxWait else { return .refused(wait: wait) }
            state.fullAt = max(state.fullAt, start) + .nanoseconds(Int64(Double(recipients) * nanosecondsPerRecipient))
            return .after(wait)
        }
    }
}
