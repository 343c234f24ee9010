import NIOCore
import Testing

@testable import SMTPCore

struct SMTPInputFramerTests {
    static func events(_ text: String, maxLine: Int = 512, dataAfterLine: Int? = nil) -> [SMTPInputFramer.Event] {
        var framer = SMTPInputFramer(maxLineLength: maxLine)
        var buffer = ByteBuffer(string: text)
        var events: [SMTPInputFramer.Event] = []
        while let event = framer.next(from: &buffer) {
            events.append(event)
            if events.count == dataAfterLine { framer.beginData() }
        }
        return events
    }

    @Test func crlfLinesAreFramed() {
        #expect(Self.events("EHLO a\r\nNOOP\r\n") == [.line(Array("EHLO a".utf8)), .line(Array("NOOP".utf8))])
    }

    @Test func bareLFEndedCommandIsRefused() {
        #expect(Self.events("NOOP\nQUIT\r\n") == [.badLineEnding, .line(Array("QUIT".utf8))])
    }

    @Test func lineOverTheLimitIsReportedOnceAndDiscarded() {
        let long = String(repeating: "x", count: 600)
        #expect(Self.events("\(long)\r\nNOOP\r\n") == [.lineTooLong, .line(Array("NOOP".utf8))])
    }

    @Test func endlessLineIsDiscardedWithoutBuffering() {
        var framer = SMTPInputFramer(maxLineLength: 512)
        var buffer = ByteBuffer(string: String(repeating: "x", count: 4096))
        #expect(framer.next(from: &buffer) == .lineTooLong)
        #expect(buffer.readableBytes == 0)
        var more = ByteBuffer(string: String(repeating: "y", count: 4096))
        #expect(framer.next(from: &more) == nil)
        #expect(more.readableBytes == 0)
    }

    @Test func dataModeYieldsChunksThenEndThenCommands() {
        let events = Self.events("DATA\r\nhi\r\n.\r\nQUIT\r\n", dataAfterLine: 1)
        #expect(events == [.line(Array("DATA".utf8)), .dataChunk(ByteBuffer(string: "hi\r\n")), .dataEnd, .line(Array("QUIT".utf8))])
    }
}
