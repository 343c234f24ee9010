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

    /// The worker stopped accepting: sessions go on as usual (a client in the middle of its work loses
    /// nothing, which is what makes a reload seamless) until they end or `deadline` passes; then those
    /// left are told 421 (after their transaction, if one is in flight) and get `grace` to finish.
    func drain(on eventLoop: EventLoop, deadline: TimeAmount, grace: TimeAmount) -> EventLoopFuture<Void> {
        let promise = eventLoop.makePromise(of: Void.self)
        let empty = state.withLock { state -> Bool in
            state.drained = promise
            return state.channels.isEmpty
        }
        if empty { promise.succeed() }
        eventLoop.scheduleTask(in: deadline) {
            let channels = self.state.withLock { Array($0.channels.values) }
            for channel in channels {
                channel.eventLoop.execute { channel.pipeline.fireUserInboundEventTriggered(DrainEvent()) }
            }
            eventLoop.scheduleTask(in: grace) { promise.succeed() }
        }
        return promise.futureResult
    }
}

/// Answers a refused connection with one reply and closes it. On the implicit-TLS listener the reply
/// waits for the handshake, which a client may never finish: it gets `patience`, then the close, so a
/// refused client cannot hold a socket (and the refusal costs no slot of the limits).
final class RefusingHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    static let patience = TimeAmount.seconds(10)
    private let reply: String

    init(reply: String) {
        self.reply = reply
    }

    func channelActive(context: ChannelHandlerContext) {
        context.writeAndFlush(wrapOutboundOut(ByteBuffer(string: reply))).assumeIsolated().whenComplete { _ in
            context.close(promise: nil)
        }
        let channel = context.channel
        context.eventLoop.scheduleTask(in: Self.patience) { channel.close(promise: nil) }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {}
}
