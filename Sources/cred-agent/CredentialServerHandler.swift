import Logging
import NIOCore
import Shared

#if canImport(Glibc)
import Glibc
#endif

/// The agent's end of one credentials socketpair, whose only peer is the worker the supervisor gave
/// the other end. Answers each request with signing material derived at that moment from the current
/// credentials; a malformed or unknown request closes the channel.
final class CredentialServerHandler: ChannelInboundHandler {
    typealias InboundIn = IPCFrame
    typealias OutboundOut = IPCFrame

    private let store: CredentialStore
    private let logger: Logger

    init(store: CredentialStore, logger: Logger) {
        self.store = store
        self.logger = logger
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        do {
            switch try AgentRequest(frame: frame) {
            case .credentials:
                let now = Int64(time(nil))
                let current = store.credentials
                let reply: AgentReply
                if let expiration = current.expiration, expiration <= now {
                    // Expired and not yet refreshed: the worker answers 451 rather than sign with them.
                    reply = .unavailable(retryAfterSeconds: 5)
                } else {
                    reply = .credentials(SigningMaterial.credentials(from: current, region: store.region, now: now))
                }
                context.writeAndFlush(wrapOutboundOut(reply.frame(requestID: frame.requestID)), promise: nil)
            }
        } catch {
            logger.error("closing the credentials channel: bad request", metadata: ["error": "\(error)"])
            context.close(promise: nil)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        logger.error("closing the credentials channel", metadata: ["error": "\(error)"])
        context.close(promise: nil)
    }
}
