import NIOCore
import Shared

/// The worker's end of the control socketpair: one-way reports to the supervisor.
struct ControlClient: Sendable {
    let channel: Channel

    func send(_ message: ControlMessage) {
        channel.writeAndFlush(message.frame, promise: nil)
    }

    func count(_ event: MetricEvent) {
        send(.metric(event, delta: 1))
    }
}
