import Logging
import NIOCore
import Shared
import Synchronization

/// One request to the agent and the promise its reply completes.
struct AgentCall: Sendable {
    var request: AgentRequest
    var promise: EventLoopPromise<AgentReply>
}

/// The worker's end of the credentials socketpair: numbers requests, pairs replies by requestID and
/// fails a request that gets no answer within `timeout`. A malformed reply closes the channel.
final class AgentClientHandler: ChannelDuplexHandler {
    typealias InboundIn = IPCFrame
    typealias OutboundIn = AgentCall
    typealias OutboundOut = IPCFrame

    private var nextRequestID: UInt32 = 1
    private var pending: [UInt32: (promise: EventLoopPromise<AgentReply>, deadline: Scheduled<Void>)] = [:]
    private let timeout: TimeAmount
    private let logger: Logger

    init(timeout: TimeAmount, logger: Logger) {
        self.timeout = timeout
        self.logger = logger
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let call = unwrapOutboundIn(data)
        let requestID = nextRequestID
        nextRequestID = nextRequestID == UInt32.max ? 1 : nextRequestID + 1
        let deadline = context.eventLoop.assumeIsolated().scheduleTask(in: timeout) {
            guard let expired = self.pending.removeValue(forKey: requestID) else { return }
            expired.promise.fail(IPCError(.timeout, "agent did not answer"))
        }
        pending[requestID] = (call.promise, deadline)
        context.write(wrapOutboundOut(call.request.frame(requestID: requestID)), promise: promise)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        let reply: AgentReply
        do {
            reply = try AgentReply(frame: frame)
        } catch {
            logger.error("closing the agent channel: malformed reply", metadata: ["error": "\(error)"])
            context.close(promise: nil)
            return
        }
        guard let entry = pending.removeValue(forKey: frame.requestID) else {
            logger.warning("reply for an unknown or expired request", metadata: ["request_id": "\(frame.requestID)"])
            return
        }
        entry.deadline.cancel()
        entry.promise.succeed(reply)
    }

    func channelInactive(context: ChannelHandlerContext) {
        for entry in pending.values {
            entry.deadline.cancel()
            entry.promise.fail(IPCError(.channelClosed, "agent channel closed"))
        }
        pending.removeAll()
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        logger.error("closing the agent channel", metadata: ["error": "\(error)"])
        context.close(promise: nil)
    }
}

/// Thread-safe handle on the current agent channel. When the agent restarts the supervisor hands the
/// worker a new channel, which replaces the old one; until then requests fail at once and the
/// provider keeps using the credentials it holds.
final class AgentConnection: Sendable {
    private let current: Mutex<Channel>

    init(channel: Channel) {
        current = Mutex(channel)
    }

    func replace(with channel: Channel) {
        let old = current.withLock { current in
            defer { current = channel }
            return current
        }
        old.close(promise: nil)
    }

    var eventLoop: EventLoop { current.withLock { $0.eventLoop } }

    func request(_ request: AgentRequest) -> EventLoopFuture<AgentReply> {
        let channel = current.withLock { $0 }
        let promise = channel.eventLoop.makePromise(of: AgentReply.self)
        channel.writeAndFlush(AgentCall(request: request, promise: promise)).whenFailure { promise.fail($0) }
        return promise.futureResult
    }
}
