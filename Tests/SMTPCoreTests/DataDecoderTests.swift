import NIOCore
import Testing

@testable import SMTPCore

/// DATA decoding (RFC 5321 §4.1.1.4, §4.5.2) fed every way a network can split it.
struct DataDecoderTests {
    /// Decodes `input` split at `cuts`; returns the message and what follows the end marker.
    static func decode(_ input: [UInt8], cuts: [Int]) -> (message: [UInt8], finished: Bool, rest: [UInt8]) {
        var decoder = DataDecoder()
        var output = ByteBuffer()
        var start = 0
        for end in cuts + [input.count] where end >= start {
            var offset = start
            while offset < end {
                let (consumed, finished) = decoder.decode(ByteBuffer(bytes: input[offset..<end]), into: &output)
                offset += consumed
                if finished { return (Array(output.readableBytesView), true, Array(input[offset...])) }
            }
            start = end
        }
        return (Array(output.readableBytesView), false, [])
    }

    static let cases: [(input: String, message: String, finished: Bool)] = [
        ("Subject: x\r\n\r\nbody\r\n.\r\n", "Subject: x\r\n\r\nbody\r\n", true),
        (".\r\n", "", true),
        ("..leading dot\r\n.\r\n", ".leading dot\r\n", true),
        ("a\r\n..\r\n.\r\n", "a\r\n.\r\n", true),
        ("bare\nlf\n.\nnot the end\r\n.\r\n", "bare\nlf\n.\nnot the end\r\n", true),
        ("bare\rcr\r.\rnot the end\r\n.\r\n", "bare\rcr\r.\rnot the end\r\n", true),
        ("a\r\n.\rb\r\n.\r\n", "a\r\n\rb\r\n", true),
        ("a\r\n.x\r\n.\r\n", "a\r\nx\r\n", true),
        ("no end\r\n", "no end\r\n", false),
        ("a\r\n.\r", "a\r\n", false),
    ]

    @Test(arguments: cases)
    func decodesAtEverySingleSplit(_ testCase: (input: String, message: String, finished: Bool)) {
        let input = Array(testCase.input.utf8)
        for cut in 0...input.count {
            let result = Self.decode(input, cuts: [cut])
            #expect(result.message == Array(testCase.message.utf8), "split at \(cut)")
            #expect(result.finished == testCase.finished, "split at \(cut)")
        }
    }

    @Test(arguments: cases)
    func decodesByteByByte(_ testCase: (input: String, message: String, finished: Bool)) {
        let input = Array(testCase.input.utf8)
        let result = Self.decode(input, cuts: Array(0...input.count))
        #expect(result.message == Array(testCase.message.utf8))
        #expect(result.finished == testCase.finished)
    }

    @Test func bytesAfterTheEndMarkerAreLeftForTheCommandParser() {
        let input = Array("x\r\n.\r\nQUIT\r\n".utf8)
        for cut in 0...input.count {
            let result = Self.decode(input, cuts: [cut])
            #expect(result.rest == Array("QUIT\r\n".utf8), "split at \(cut)")
        }
    }

    @Test func eightBitAndNULBytesPassThroughUnchanged() {
        let body: [UInt8] = [0xC3, 0xA9, 0x00, 0xFF, 0x80, 0x0D, 0x0A]
        let result = Self.decode(body + Array(".\r\n".utf8), cuts: [])
        #expect(result.message == body)
    }
}
