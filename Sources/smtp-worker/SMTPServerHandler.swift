import Logging
import NIOCore

/// Asks a session to finish: sent to every open connection when the worker drains.
struct DrainEvent: Sendable {}

/// Carries out what `SMTPSession` decides, on one connection. It frames input, feeds the session and
/// executes its actions; it holds no protocol logic. While a relay is in flight it stops reading, so
/// pipelined input waits in the socket instead of in memory, and it resumes where it stopped.
final class SMTPServerHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private var session: SMTPSession
    private var framer: SMTPInputFramer
    private var input = ByteBuffer()
    private var message = ByteBuffer()
    private var messageOverflowed = false
    private var relayInFlight = false
    private var closing = false
    private let relay: SESRelay
    private let sessionID: String
    private var logger: Logger

    init(limits: SMTPLimits, hostname: String, relay: SESRelay, logger: Logger) {
        self.session = SMTPSession(limits: limits, hostname: hostname)
        self.framer = SMTPInputFramer(maxLineLength: limits.maxCommandLine)
        self.relay = relay
        self.sessionID = String(UInt64.random(in: 0...UInt64.max), radix: 16)
        self.logger = logger
        self.logger[metadataKey: "session_id"] = "\(sessionID)"
    }

    func channelActive(context: ChannelHandlerContext) {
        logger.debug("session opened", metadata: ["peer": "\(context.remoteAddress.map { "\($0)" } ?? "?")"])
        execute(session.start(), context: context)
        context.flush()
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var bytes = unwrapInboundIn(data)
        input.writeBuffer(&bytes)
        processInput(context: context)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is DrainEvent {
            execute(session.drain(), context: context)
            context.flush()
        } else if let idle = event as? IdleStateHandler.IdleStateEvent, idle == .read, !relayInFlight {
            execute(session.idleTimeout(), context: context)
            context.flush()
        } else {
            context.fireUserInboundEventTriggered(event)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        logger.debug("connection error", metadata: ["error": "\(error)"])
        context.close(promise: nil)
    }

    private func processInput(context: ChannelHandlerContext) {
        while !relayInFlight && !closing, let event = framer.next(from: &input) {
            handle(event, context: context)
        }
        input.discardReadBytes()
        context.flush()
    }

    private func handle(_ event: SMTPInputFramer.Event, context: ChannelHandlerContext) {
        switch event {
        case .line(let line):
            execute(session.receive(SMTPCommand.parse(line, limits: session.limits)), context: context)
        case .lineTooLong:
            execute(session.lineTooLong(), context: context)
        case .badLineEnding:
            execute(session.badLineEnding(), context: context)
        case .dataChunk(var chunk):
            guard !messageOverflowed else { return }
            if message.readableBytes + chunk.readableBytes > session.limits.maxMessageSize {
                messageOverflowed = true
                message = ByteBuffer()
            } else {
                message.writeBuffer(&chunk)
            }
        case .dataEnd:
            execute(session.dataFinished(overflowed: messageOverflowed), context: context)
        }
    }

    private func execute(_ actions: [SessionAction], context: ChannelHandlerContext) {
        for action in actions {
            switch action {
            case .reply(let reply):
                context.write(wrapOutboundOut(ByteBuffer(string: reply.wireText)), promise: nil)
            case .receiveData:
                framer.beginData()
                message = context.channel.allocator.buffer(capacity: 64 * 1024)
                messageOverflowed = false
            case .relay(let envelope):
                startRelay(envelope, context: context)
            case .close:
                closing = true
                context.writeAndFlush(wrapOutboundOut(ByteBuffer()), promise: nil)
                context.close(promise: nil)
            }
        }
    }

    private func startRelay(_ envelope: Envelope, context: ChannelHandlerContext) {
        relayInFlight = true
        context.channel.setOption(ChannelOptions.autoRead, value: false).whenComplete { _ in }
        let body = message
        message = ByteBuffer()
        relay.relay(envelope, message: body, sessionID: sessionID, on: context.eventLoop)
            .assumeIsolated()
            .whenComplete { result in
                self.relayInFlight = false
                let reply: SMTPReply
                switch result {
                case .success(let answer): reply = answer
                case .failure(let error):
                    self.logger.error("relay failed unexpectedly", metadata: ["error": "\(error)"])
                    reply = .localError
                }
                guard context.channel.isActive else {
                    self.logger.warning("client left before the SES answer", metadata: ["reply": "\(reply.code)"])
                    return
                }
                self.execute(self.session.relayFinished(reply), context: context)
                context.channel.setOption(ChannelOptions.autoRead, value: true).whenComplete { _ in }
                self.processInput(context: context)
            }
    }
}
