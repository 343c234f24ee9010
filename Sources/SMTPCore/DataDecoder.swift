import NIOCore

#if canImport(Glibc)
import Glibc
#endif

/// Decodes the DATA section (RFC 5321 §4.1.1.4, §4.5.2): removes dot-stuffing and finds the end,
/// which is only ever CRLF "." CRLF. Bare CR and bare LF are message content and never start a line,
/// so they can neither end the message nor smuggle a second one. Everything else passes through byte
/// for byte. Works on any split of the input; holds back at most the CR of a possible end marker.
package struct DataDecoder {
    private enum State {
        case lineStart
        case inLine
        case sawCR
        /// A dot at the start of a line, dropped as stuffing or as the start of the end marker.
        case dot
        /// Dot then CR at the start of a line: the CR is held back until we know it is not the end.
        case dotCR
    }

    private var state: State = .lineStart

    /// Appends message bytes from `input` to `output`. Returns how many bytes of `input` belong to the
    /// message (the rest follows the end marker) and whether the end marker was seen.
    package init() {}

    package mutating func decode(_ input: ByteBuffer, into output: inout ByteBuffer) -> (consumed: Int, finished: Bool) {
        input.withUnsafeReadableBytes { bytes in
            decode(bytes, into: &output)
        }
    }

    private mutating func decode(_ bytes: UnsafeRawBufferPointer, into output: inout ByteBuffer) -> (Int, Bool) {
        let cr = UInt8(ascii: "\r")
        let lf = UInt8(ascii: "\n")
        var runStart = 0
        var index = 0
        while index < bytes.count {
            if state == .inLine {
                // Most of a message is line content: jump to the next CR, the only byte that matters.
                guard let found = memchr(bytes.baseAddress! + index, CInt(cr), bytes.count - index) else { break }
                index = bytes.baseAddress!.distance(to: UnsafeRawPointer(found))
            }
            let byte = bytes[index]
            switch state {
            case .inLine:
                if byte == cr { state = .sawCR }
            case .sawCR:
                state = byte == lf ? .lineStart : (byte == cr ? .sawCR : .inLine)
            case .lineStart:
                if byte == UInt8(ascii: ".") {
                    output.writeBytes(UnsafeRawBufferPointer(rebasing: bytes[runStart..<index]))
                    runStart = index + 1
                    state = .dot
                } else {
                    state = byte == cr ? .sawCR : .inLine
                }
            case .dot:
                if byte == cr {
                    runStart = index + 1
                    state = .dotCR
                } else {
                    state = .inLine
                }
            case .dotCR:
                if byte == lf {
                    state = .lineStart
                    return (index + 1, true)
                }
                output.writeInteger(cr)
                state = byte == cr ? .sawCR : .inLine
            }
            index += 1
        }
        output.writeBytes(UnsafeRawBufferPointer(rebasing: bytes[runStart..<bytes.count]))
        return (bytes.count, false)
    }
}
