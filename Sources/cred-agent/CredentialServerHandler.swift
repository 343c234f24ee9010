import Logging
import NIOCore
import Shared

#if canImport(Glibc)
import Glibc
#endif

/// The agent's end of the credentials socketpair, whose only peer is the worker the supervisor
/// started with the other end. Answers each request with signing material derived at that moment; a
/// malformed or unknown request closes the channel.
final class CredentialServerHandler: ChannelInboundHandler {
    typealias InboundIn = IPCFrame
    typealias OutboundOut = IPCFrame

    private let base: BaseCredentials
    private let region: String
    private let logger: Logger

    init(base: BaseCredentials, region: String, logger: Logger) {
        self.base = base
        self.region = region
        self.logger = logger
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        do {
            switch try AgentRequest(frame: frame) {
            case .credentials:
                let material = SigningMaterial.credentials(from: base, region: region, now: Int64(time(nil)))
                let reply = AgentReply.credentials(material)
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
