import NIOCore

/// Splits the client's byte stream into command lines and DATA content. Memory stays bounded: a
/// command line over the limit is reported once and the rest of it discarded as it arrives; DATA is
/// handed on in chunks.
struct SMTPInputFramer {
    enum Event: Equatable {
        case line([UInt8])
        case lineTooLong
        case badLineEnding
        case dataChunk(ByteBuffer)
        case dataEnd
    }

    private enum Mode {
        case command
        case discardingLine
        case data(DataDecoder)
    }

    private var mode: Mode = .command
    private var dataEndPending = false
    let maxLineLength: Int

    init(maxLineLength: Int) {
        self.maxLineLength = maxLineLength
    }

    /// Call when the session answered 354: what follows is message content.
    mutating func beginData() {
        mode = .data(DataDecoder())
    }

    mutating func next(from buffer: inout ByteBuffer) -> Event? {
        if dataEndPending {
            dataEndPending = false
            return .dataEnd
        }
        while true {
            switch mode {
            case .command:
                return nextLine(from: &buffer)
            case .discardingLine:
                guard let lf = buffer.readableBytesView.firstIndex(of: UInt8(ascii: "\n")) else {
                    buffer.moveReaderIndex(to: buffer.writerIndex)
                    return nil
                }
                buffer.moveReaderIndex(to: lf + 1)
                mode = .command
            case .data(var decoder):
                guard buffer.readableBytes > 0 else { return nil }
                var chunk = ByteBuffer()
                let (consumed, finished) = decoder.decode(buffer, into: &chunk)
                buffer.moveReaderIndex(forwardBy: consumed)
                mode = finished ? .command : .data(decoder)
                if chunk.readableBytes == 0 { return finished ? .dataEnd : nil }
                dataEndPending = finished
                return .dataChunk(chunk)
            }
        }
    }

    private mutating func nextLine(from buffer: inout ByteBuffer) -> Event? {
        let view = buffer.readableBytesView
        guard let lf = view.firstIndex(of: UInt8(ascii: "\n")) else {
            if buffer.readableBytes >= maxLineLength {
                buffer.moveReaderIndex(to: buffer.writerIndex)
                mode = .discardingLine
                return .lineTooLong
            }
            return nil
        }
        let length = lf + 1 - buffer.readerIndex
        defer { buffer.moveReaderIndex(to: lf + 1) }
        if length > maxLineLength { return .lineTooLong }
        guard lf > buffer.readerIndex, view[lf - 1] == UInt8(ascii: "\r") else { return .badLineEnding }
        return .line(Array(view[buffer.readerIndex..<(lf - 1)]))
    }
}
