import NIOCore

/// Splits the client's byte stream into command lines and message content (DATA, or BDAT chunks).
/// Memory stays bounded: a command line over the limit is reported once and the rest of it discarded
/// as it arrives; content is handed on in pieces as it arrives.
package struct SMTPInputFramer {
    package enum Event: Equatable {
        case line([UInt8])
        case lineTooLong
        /// The over-long line went on past `maxDiscardedLine` octets.
        case lineFlood
        case badLineEnding
        /// A piece of message content, DATA (already dot-unstuffed) or BDAT.
        case dataChunk(ByteBuffer)
        case dataEnd
        /// The last octet of a BDAT chunk has arrived.
        case chunkEnd
    }

    private enum Mode {
        case command
        case discardingLine(discarded: Int)
        case data(DataDecoder)
        case chunk(remaining: Int)
    }

    private var mode: Mode = .command
    private var endPending: Event?
    package let maxLineLength: Int
    package let maxDiscardedLine: Int

    package init(maxLineLength: Int, maxDiscardedLine: Int = 65_536) {
        self.maxLineLength = maxLineLength
        self.maxDiscardedLine = maxDiscardedLine
    }

    /// Call when the session answered 354: what follows is message content.
    package mutating func beginData() {
        mode = .data(DataDecoder())
    }

    /// Call right after a well-formed BDAT command, accepted or not: its `size` octets follow the
    /// line either way, and must be taken off the stream to stay in step (RFC 3030 §2).
    package mutating func beginChunk(size: Int) {
        mode = .chunk(remaining: size)
    }

    package mutating func next(from buffer: inout ByteBuffer) -> Event? {
        if let pending = endPending {
            endPending = nil
            return pending
        }
        while true {
            switch mode {
            case .command:
                return nextLine(from: &buffer)
            case .chunk(let remaining):
                if remaining == 0 {
                    mode = .command
                    return .chunkEnd
                }
                guard buffer.readableBytes > 0, let piece = buffer.readSlice(length: min(remaining, buffer.readableBytes))
                else { return nil }
                let left = remaining - piece.readableBytes
                mode = left == 0 ? .command : .chunk(remaining: left)
                if left == 0 { endPending = .chunkEnd }
                return .dataChunk(piece)
            case .discardingLine(let discarded):
                guard let lf = buffer.readableBytesView.firstIndex(of: UInt8(ascii: "\n")) else {
                    let total = discarded + buffer.readableBytes
                    buffer.moveReaderIndex(to: buffer.writerIndex)
                    guard total <= maxDiscardedLine else { return .lineFlood }
                    mode = .discardingLine(discarded: total)
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
                if finished { endPending = .dataEnd }
                return .dataChunk(chunk)
            }
        }
    }

    private mutating func nextLine(from buffer: inout ByteBuffer) -> Event? {
        let view = buffer.readableBytesView
        guard let lf = view.firstIndex(of: UInt8(ascii: "\n")) else {
            if buffer.readableBytes >= maxLineLength {
                mode = .discardingLine(discarded: buffer.readableBytes)
                buffer.moveReaderIndex(to: buffer.writerIndex)
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
