import Logging
import NIOCore

/// For a channel whose peer is not expected to send anything (the supervisor → child direction of a
/// control channel, for now): any frame is a protocol violation, logged by kind, and closes the channel.
public final class SilentPeerHandler: ChannelInboundHandler {
    public typealias InboundIn = IPCFrame
    private let channelName: String
    private let logger: Logger

    public init(channelName: String, logger: Logger) {
        self.channelName = channelName
        self.logger = logger
    }

    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        logger.error("closing the \(channelName) channel: unexpected message", metadata: ["kind": "\(frame.kind)"])
        context.close(promise: nil)
    }

    public func errorCaught(context: ChannelHandlerContext, error: Error) {
        logger.error("closing the \(channelName) channel", metadata: ["error": "\(error)"])
        context.close(promise: nil)
    }
}
