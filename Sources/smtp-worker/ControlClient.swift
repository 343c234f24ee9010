import NIOCore
import Shared
import Synchronization

/// The worker's end of the control socketpair: one-way reports to the supervisor. Counts are summed
/// here and sent every `flushInterval` and at the end, so relaying a message costs no write and no
/// hop to the control channel's event loop; /metrics trails by at most that interval.
final class ControlClient: Sendable {
    static let flushInterval = TimeAmount.milliseconds(250)

    let channel: Channel
    private let pending = Mutex<[MetricEvent: UInt32]>([:])

    init(channel: Channel) {
        self.channel = channel
        channel.eventLoop.scheduleRepeatedTask(initialDelay: Self.flushInterval, delay: Self.flushInterval) { [weak self] _ in
            self?.flush()
        }
    }

    func send(_ message: ControlMessage) {
        channel.writeAndFlush(message.frame, promise: nil)
    }

    func count(_ event: MetricEvent) {
        pending.withLock { $0[event, default: 0] += 1 }
    }

    /// Sends what was counted since the last flush; the future completes once it is written.
    @discardableResult
    func flush() -> EventLoopFuture<Void> {
        let counts = pending.withLock { pending in
            defer { pending = [:] }
            return pending
        }
        let frames = counts.map { ControlMessage.metric($0.key, delta: $0.value).frame }
        guard let last = frames.last else { return channel.eventLoop.makeSucceededVoidFuture() }
        for frame in frames.dropLast() { channel.write(frame, promise: nil) }
        return channel.writeAndFlush(last)
    }
}
