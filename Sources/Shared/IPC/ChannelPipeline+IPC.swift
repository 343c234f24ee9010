import NIOCore

extension ChannelPipeline.SynchronousOperations {
    /// Adds the frame codec in front of `handler`, which then reads and writes `IPCFrame`s.
    public func addIPCHandlers(_ handler: some ChannelHandler) throws {
        try addHandler(ByteToMessageHandler(IPCFrameDecoder()))
        try addHandler(MessageToByteHandler(IPCFrameEncoder()))
        try addHandler(handler)
    }
}
