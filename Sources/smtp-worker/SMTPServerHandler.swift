import Logging
import NIOCore
import NIOSSL
import NIOTLS
import SMTPCore

/// Asks a session to finish: sent to every open connection when the worker drains.
struct DrainEvent: Sendable {}

/// Carries out what `SMTPConnection` decides, on one connection: writes replies, hands messages to
/// SES, closes. It holds no protocol logic. While a relay is in flight it stops reading, so pipelined
/// input waits in the socket instead of in memory, and it resumes where it stopped.
final class SMTPServerHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private var connection: SMTPConnection
    private let relay: SESRelay
    private let control: ControlClient
    private let trace: ReceivedHeader?
    private let tlsContext: NIOSSLContext?
    private let authenticator: Authenticator?
    private let sessionID: String
    private var logger: Logger

    init(
        limits: SMTPLimits,
        hostname: String,
        policy: SMTPPolicy,
        tls: TLSOffer,
        tlsContext: NIOSSLContext?,
        auth: AuthOffer,
        authenticator: Authenticator?,
        relay: SESRelay,
        control: ControlClient,
        trace: ReceivedHeader?,
        spool: MessageSpool,
        logger: Logger
    ) {
        self.connection = SMTPConnection(limits: limits, hostname: hostname, policy: policy, tls: tls, auth: auth, spool: spool)
        self.tlsContext = tlsContext
        self.authenticator = authenticator
        self.relay = relay
        self.control = control
        self.trace = trace
        self.sessionID = String(UInt64.random(in: 0...UInt64.max), radix: 16)
        self.logger = logger
        self.logger[metadataKey: "session_id"] = "\(sessionID)"
    }

    func channelActive(context: ChannelHandlerContext) {
        logger.debug("session opened", metadata: ["peer": "\(context.remoteAddress.map { "\($0)" } ?? "?")"])
        execute(connection.start(), context: context)
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var bytes = unwrapInboundIn(data)
        execute(connection.receive(&bytes), context: context)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let tls = event as? TLSUserEvent, case .handshakeCompleted = tls {
            control.count(.tlsSession)
            logger.debug("TLS established")
        } else if event is DrainEvent {
            execute(connection.drain(), context: context)
        } else if let idle = event as? IdleStateHandler.IdleStateEvent, idle == .read {
            execute(connection.idleTimeout(), context: context)
        } else {
            context.fireUserInboundEventTriggered(event)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        logger.debug("connection error", metadata: ["error": "\(error)"])
        context.close(promise: nil)
    }

    private func execute(_ actions: [SMTPConnection.Action], context: ChannelHandlerContext) {
        for action in actions {
            switch action {
            case .send(let reply):
                context.write(wrapOutboundOut(ByteBuffer(string: reply.wireText)), promise: nil)
            case .relay(let envelope, let message):
                startRelay(envelope, message: message, context: context)
            case .close:
                context.writeAndFlush(wrapOutboundOut(ByteBuffer())).assumeIsolated().whenComplete { _ in
                    context.close(promise: nil)
                }
            case .startTLS:
                startTLS(context: context)
            case .authenticate(let attempt):
                authenticate(attempt, context: context)
            case .spoolFailed(let error):
                logger.error("message refused: cannot store it", metadata: ["error": "\(error)"])
            case .refusedByPolicy(let refusal):
                control.count(.policyRefusal(refusal == .sender ? .sender : .recipient))
                logger.info("refused by policy", metadata: ["refused": "\(refusal)"])
            }
        }
        context.flush()
    }

    /// The 220 goes out in clear first; every byte after it is TLS. The session offers STARTTLS only
    /// with a context, so its absence here is a bug, answered by closing.
    private func startTLS(context: ChannelHandlerContext) {
        context.flush()
        guard let tlsContext else {
            context.close(promise: nil)
            return
        }
        do {
            try context.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: tlsContext), position: .first)
        } catch {
            logger.error("cannot start TLS", metadata: ["error": "\(error)"])
            context.close(promise: nil)
        }
    }

    /// Like a relay: input waits in the socket while the worker checks the password off the loop.
    private func authenticate(_ attempt: AuthAttempt, context: ChannelHandlerContext) {
        guard let authenticator else {
            execute(connection.authenticationFinished(nil), context: context)
            return
        }
        context.channel.setOption(ChannelOptions.autoRead, value: false).whenComplete { _ in }
        let peer = context.remoteAddress?.ipAddress ?? "unknown"
        authenticator.verify(attempt, peer: peer, on: context.eventLoop)
            .assumeIsolated()
            .whenComplete { result in
                let identity = (try? result.get()) ?? nil
                self.control.count(.auth(succeeded: identity != nil))
                if let identity {
                    self.logger[metadataKey: "auth_user"] = "\(identity.user)"
                    self.logger.info("authenticated")
                } else {
                    self.logger.notice("authentication failed", metadata: ["user": "\(attempt.user)", "peer": "\(peer)"])
                }
                guard context.channel.isActive else { return }
                self.execute(self.connection.authenticationFinished(identity), context: context)
                context.channel.setOption(ChannelOptions.autoRead, value: true).whenComplete { _ in }
            }
    }

    private func startRelay(_ envelope: Envelope, message: MessageBody, context: ChannelHandlerContext) {
        context.channel.setOption(ChannelOptions.autoRead, value: false).whenComplete { _ in }
        let header = trace.map {
            ByteBuffer(string: $0.header(connection: connection, envelope: envelope, peer: context.remoteAddress, sessionID: sessionID))
        }
        relay.relay(envelope, trace: header, message: message, sessionID: sessionID, on: context.eventLoop)
            .assumeIsolated()
            .whenComplete { result in
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
                self.execute(self.connection.relayFinished(reply), context: context)
                context.channel.setOption(ChannelOptions.autoRead, value: true).whenComplete { _ in }
            }
    }
}
