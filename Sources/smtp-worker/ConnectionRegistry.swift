import NIOCore
import Synchronization

/// Open SMTP connections: admits new ones within the limits (`--max-connections`,
/// `--max-connections-per-ip`), and lets a drain reach each of them and know when the last one ended.
final class ConnectionRegistry: Sendable {
    private struct State {
        var channels: [ObjectIdentifier: Channel] = [:]
        var perPeer: [String: Int] = [:]
        var drained: EventLoopPromise<Void>?
    }

    private let state = Mutex(State())
    private let maxConnections: Int
    private let maxPerPeer: Int

    init(maxConnections: Int, maxPerPeer: Int) {
        self.maxConnections = maxConnections
        self.maxPerPeer = maxPerPeer
    }

    /// Registers `channel` if both limits allow it; false means the client is to be turned away.
    func admit(_ channel: Channel) -> Bool {
        let peer = channel.remoteAddress?.ipAddress ?? "unknown"
        let admitted = state.withLock { state -> Bool in
            guard state.channels.count < maxConnections, state.perPeer[peer, default: 0] < maxPerPeer else { return false }
            state.channels[ObjectIdentifier(channel)] = channel
            state.perPeer[peer, default: 0] += 1
            return true
        }
        guard admitted else { return false }
        channel.closeFuture.whenComplete { _ in
            let drained = self.state.withLock { state -> EventLoopPromise<Void>? in
                state.channels.removeValue(forKey: ObjectIdentifier(channel))
                let left = state.perPeer[peer, default: 1] - 1
                state.perPeer[peer] = left > 0 ? left : nil
                return state.channels.isEmpty ? state.drained : nil
            }
            drained?.succeed()
        }
        return true
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

/// Answers a connection over the limits with one reply and closes it.
final class RefusingHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let reply: String

    init(reply: String) {
        self.reply = reply
    }

    func channelActive(context: ChannelHandlerContext) {
        context.writeAndFlush(wrapOutboundOut(ByteBuffer(string: reply))).assumeIsolated().whenComplete { _ in
            context.close(promise: nil)
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {}
}
