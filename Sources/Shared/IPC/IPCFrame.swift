import NIOCore

/// Framing shared by every channel between our processes (supervisor ⇄ children, agent ⇄ worker).
/// On the wire: `u32 length | u8 version | u8 kind | u32 requestID | body`, big-endian, where `length`
/// counts every byte after itself and never exceeds `IPC.maxFrame`.
public enum IPC {
    public static let version: UInt8 = 1
    public static let maxFrame = 64 * 1024
    /// version + kind + requestID
    static let headerSize = 6
}

/// One frame: its kind selects the message type in `Messages.swift`; `requestID` pairs a reply with its
/// request (0 for one-way messages).
public struct IPCFrame: Equatable, Sendable {
    public var kind: UInt8
    public var requestID: UInt32
    public var body: ByteBuffer

    public init(kind: UInt8, requestID: UInt32 = 0, body: ByteBuffer) {
        self.kind = kind
        self.requestID = requestID
        self.body = body
    }
}

/// Splits a byte stream into `IPCFrame`s. A frame that is too long, too short or of another version
/// is an error: the channel handler logs it and closes the channel, it never resynchronises.
public struct IPCFrameDecoder: ByteToMessageDecoder {
    public typealias InboundOut = IPCFrame

    public init() {}

    public mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        guard let frame = try Self.decodeFrame(from: &buffer) else { return .needMoreData }
        context.fireChannelRead(Self.wrapInboundOut(frame))
        return .continue
    }

    public mutating func decodeLast(
        context: ChannelHandlerContext,
        buffer: inout ByteBuffer,
        seenEOF: Bool
    ) throws -> DecodingState {
        while try self.decode(context: context, buffer: &buffer) == .continue {}
        if buffer.readableBytes > 0 {
            throw IPCError(.truncated, "\(buffer.readableBytes) bytes of an unfinished frame at end of stream")
        }
        return .needMoreData
    }

    /// Pure form of the decoder, for tests and for non-NIO readers.
    public static func decodeFrame(from buffer: inout ByteBuffer) throws(IPCError) -> IPCFrame? {
        guard let length = buffer.getInteger(at: buffer.readerIndex, as: UInt32.self) else { return nil }
        guard length <= IPC.maxFrame else { throw IPCError(.oversize, "frame of \(length) bytes") }
        guard length >= IPC.headerSize else { throw IPCError(.truncated, "frame of \(length) bytes") }
        guard buffer.readableBytes >= 4 + Int(length) else { return nil }
        guard let version = buffer.getInteger(at: buffer.readerIndex + 4, as: UInt8.self),
            let kind = buffer.getInteger(at: buffer.readerIndex + 5, as: UInt8.self),
            let requestID = buffer.getInteger(at: buffer.readerIndex + 6, as: UInt32.self),
            let body = buffer.getSlice(at: buffer.readerIndex + 10, length: Int(length) - IPC.headerSize)
        else { return nil }
        guard version == IPC.version else { throw IPCError(.unknownVersion, "version \(version), kind \(kind)") }
        buffer.moveReaderIndex(forwardBy: 4 + Int(length))
        return IPCFrame(kind: kind, requestID: requestID, body: body)
    }
}

/// Writes `IPCFrame`s; refuses to send a frame the peer would reject as oversize.
public struct IPCFrameEncoder: MessageToByteEncoder {
    public typealias OutboundIn = IPCFrame

    public init() {}

    public func encode(data frame: IPCFrame, out: inout ByteBuffer) throws {
        try Self.encodeFrame(frame, into: &out)
    }

    public static func encodeFrame(_ frame: IPCFrame, into out: inout ByteBuffer) throws(IPCError) {
        let length = IPC.headerSize + frame.body.readableBytes
        guard length <= IPC.maxFrame else { throw IPCError(.oversize, "refusing to send \(length) bytes") }
        out.writeInteger(UInt32(length))
        out.writeInteger(IPC.version)
        out.writeInteger(frame.kind)
        out.writeInteger(frame.requestID)
        var body = frame.body
        out.writeBuffer(&body)
    }
}
