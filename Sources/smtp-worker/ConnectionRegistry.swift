import NIOCore
import Synchronization

/// Open SMTP connections, so that a drain can reach each of them and know when the last one ended.
final class ConnectionRegistry: Sendable {
    private struct State {
        var channels: [ObjectIdentifier: Channel] = [:]
        var drained: EventLoopPromise<Void>?
    }

    private let state = Mutex(State())

    func add(_ channel: Channel) {
        state.withLock { $0.channels[ObjectIdentifier(channel)] = channel }
        channel.closeFuture.whenComplete { _ in
            let drained = self.state.withLock { state -> EventLoopPromise<Void>? in
                state.channels.removeValue(forKey: ObjectIdentifier(channel))
                return state.channels.isEmpty ? state.drained : nil
            }
            drained?.succeed()
        }
    }

    /// Tells every session to finish; the future completes when none is left or after `deadline`.
    func drain(on eventLoop: EventLoop, deadline: TimeAmount) -> EventLoopFuture<Void> {
        let promise = eventLoop.makePromise(of: Void.self)
        let channels = state.withLock { state -> [Channel] in
            state.drained = promise
            return Array(state.channels.values)
        }
        if channels.isEmpty { promise.succeed() }
        for channel in channels {
            channel.eventLoop.execute { channel.pipeline.fireUserInboundEventTriggered(DrainEvent()) }
        }
        eventLoop.scheduleTask(in: deadline) { promise.succeed() }
        return promise.futureResult
    }
}
