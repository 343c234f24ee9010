import NIOCore
import Testing

@testable import SMTPCore

/// The whole connection (framer, decoders, session) as the NIO handler drives it: bytes in, actions
/// out, SES answering immediately.
struct SMTPConnectionTests {
    static let limits: SMTPLimits = {
        var limits = SMTPLimits()
        limits.maxMessageSize = 100
        return limits
    }()

    /// Feeds `input` in reads cut at `cuts`; SES answers every relay with `answer`. Returns the wire
    /// text of every reply and the messages relayed.
    static func run(
        _ input: String, cuts: [Int] = [], answer: SMTPReply = .queued(messageID: "m"), spool: MessageSpool? = nil
    ) -> (replies: String, relayed: [String]) {
        var connection = SMTPConnection(limits: limits, hostname: "relay.test", spool: spool)
        var replies = ""
        var relayed: [String] = []
        var pending = connection.start()
        let bytes = Array(input.utf8)
        var start = 0
        for end in cuts.filter({ $0 > 0 && $0 < bytes.count }) + [bytes.count] {
            drain(&pending, &connection, &replies, &relayed, answer)
            var read = ByteBuffer(bytes: bytes[start..<end])
            pending += connection.receive(&read)
            start = end
        }
        drain(&pending, &connection, &replies, &relayed, answer)
        return (replies, relayed)
    }

    private static func drain(
        _ pending: inout [SMTPConnection.Action], _ connection: inout SMTPConnection, _ replies: inout String,
        _ relayed: inout [String], _ answer: SMTPReply
    ) {
        while !pending.isEmpty {
            switch pending.removeFirst() {
            case .send(let reply): replies += reply.wireText
            case .relay(_, let message):
                relayed.append(String(decoding: try! message.collected(), as: UTF8.self))
                pending += connection.relayFinished(answer)
            case .close: replies += "<close>"
            case .refusedByPolicy: break
            case .startTLS: replies += "<tls>"
            case .spoolFailed: replies += "<spool failed>"
            case .authenticate: pending += connection.authenticationFinished(nil)
            }
        }
    }

    static let greeting = "220 relay.test ESMTP ses-smtpd-proxy\r\n"
    static let envelope = "EHLO c\r\nMAIL FROM:<a@b.c>\r\nRCPT TO:<d@e.f>\r\n"
    static let envelopeReplies = "250-relay.test\r\n250-PIPELINING\r\n250-SIZE 100\r\n250-8BITMIME\r\n250-ENHANCEDSTATUSCODES\r\n250 CHUNKING\r\n"
        + "250 2.1.0 Sender ok\r\n250 2.1.5 Recipient ok\r\n"

    @Test func pipelinedDataTransactionsAreAnsweredInOrder() {
        let second: String = "MAIL FROM:<a@b.c>\r\nRCPT TO:<d@e.f>\r\nDATA\r\nthree\r\n.\r\nQUIT\r\n"
        let input: String = Self.envelope + "DATA\r\n" + "one\r\n..two\r\n.\r\n" + second
        let result = Self.run(input)
        #expect(result.relayed == ["one\r\n.two\r\n", "three\r\n"])
        let start: String = "354 End data with <CR><LF>.<CR><LF>\r\n"
        let queued: String = "250 2.0.0 Ok: queued as m\r\n"
        let secondReplies: String = "250 2.1.0 Sender ok\r\n250 2.1.5 Recipient ok\r\n" + start + queued + "221 2.0.0 Bye\r\n<close>"
        let expected: String = Self.greeting + Self.envelopeReplies + start + queued + secondReplies
        #expect(result.replies == expected)
    }

    @Test func everySplitOfADialogueGivesTheSameResult() {
        let input: String = Self.envelope + "DATA\r\nx\r\n.\r\n" + "MAIL FROM:<a@b.c>\r\nRCPT TO:<d@e.f>\r\nBDAT 4\r\nab\r\nBDAT 3 LAST\r\n.\r\nNOOP\r\nQUIT\r\n"
        let whole = Self.run(input)
        #expect(whole.relayed == ["x\r\n", "ab\r\n.\r\n"])
        for cut in 1..<input.utf8.count {
            let split = Self.run(input, cuts: [cut])
            #expect(split.replies == whole.replies, "split at \(cut)")
            #expect(split.relayed == whole.relayed, "split at \(cut)")
        }
        let byteByByte = Self.run(input, cuts: Array(1..<input.utf8.count))
        #expect(byteByByte.replies == whole.replies)
        #expect(byteByByte.relayed == whole.relayed)
    }

    @Test func bdatChunksAreAcknowledgedAndJoinedVerbatim() {
        let result = Self.run(Self.envelope + "BDAT 6\r\n.a\r\nb\n" + "BDAT 0 LAST\r\n")
        #expect(result.relayed == [".a\r\nb\n"], "BDAT content is not dot-unstuffed")
        #expect(result.replies.hasSuffix("250 2.0.0 6 octets received\r\n250 2.0.0 Ok: queued as m\r\n"))
    }

    @Test func refusedBDATChunkIsSkippedAndTheSessionStaysInStep() {
        let result = Self.run("EHLO c\r\nBDAT 12\r\nNOOP\r\nNOOP\r\nNOOP\r\n")
        #expect(result.replies.hasSuffix("503 5.5.1 Send MAIL FROM first\r\n250 2.0.0 Ok\r\n"), "the 12 octets are not commands")
    }

    @Test func dataAfterBDATIsRefused() {
        let result = Self.run(Self.envelope + "BDAT 2\r\nab" + "DATA\r\n")
        #expect(result.replies.hasSuffix("503 5.5.1 DATA and BDAT cannot be mixed in one message\r\n"))
    }

    @Test func oversizeDataIsReadToItsEndThenRefusedWith552() {
        let big = String(repeating: "x", count: 98) + "\r\n" + "y\r\n"
        let result = Self.run(Self.envelope + "DATA\r\n" + big + ".\r\nNOOP\r\n")
        #expect(result.relayed.isEmpty)
        #expect(result.replies.hasSuffix("552 5.3.4 Message too big for SES\r\n250 2.0.0 Ok\r\n"))
    }

    @Test func messageOfExactlyTheLimitIsRelayed() {
        let exact = String(repeating: "x", count: 98) + "\r\n"
        #expect(Self.run(Self.envelope + "DATA\r\n" + exact + ".\r\n").relayed == [exact])
    }

    @Test func oversizeBDATIsRefusedAtLastAndTheSessionGoesOn() {
        let result = Self.run(Self.envelope + "BDAT 60\r\n" + String(repeating: "a", count: 60) + "BDAT 60 LAST\r\n"
            + String(repeating: "b", count: 60) + "NOOP\r\n")
        #expect(result.relayed.isEmpty)
        #expect(result.replies.hasSuffix("250 2.0.0 60 octets received\r\n552 5.3.4 Message too big for SES\r\n250 2.0.0 Ok\r\n"))
    }

    @Test func failedRelayKeepsTheSession() {
        let result = Self.run(Self.envelope + "DATA\r\nx\r\n.\r\nNOOP\r\n", answer: SMTPReply(451, "4.3.0", "later"))
        #expect(result.replies.hasSuffix("451 4.3.0 later\r\n250 2.0.0 Ok\r\n"))
    }

    @Test func idleTimeoutIsIgnoredWhileSESHasTheMessage() {
        var connection = SMTPConnection(limits: Self.limits, hostname: "relay.test")
        _ = connection.start()
        var input = ByteBuffer(string: Self.envelope + "DATA\r\nx\r\n.\r\n")
        let actions = connection.receive(&input)
        #expect(actions.contains { if case .relay = $0 { true } else { false } })
        #expect(connection.idleTimeout() == [])
        _ = connection.relayFinished(.queued(messageID: "m"))
        #expect(connection.idleTimeout() == [.send(.idleTimeout), .close])
    }

    @Test func longLineIsAnsweredOnceAndTheSessionResyncsAtItsEnd() {
        var connection = SMTPConnection(limits: Self.limits, hostname: "relay.test")
        _ = connection.start()
        var first = ByteBuffer(repeating: UInt8(ascii: "z"), count: 4096)
        #expect(connection.receive(&first) == [.send(.lineTooLong)])
        for _ in 0..<10 {
            var junk = ByteBuffer(repeating: UInt8(ascii: "z"), count: 4096)
            #expect(connection.receive(&junk) == [])
        }
        var end = ByteBuffer(string: "\r\nNOOP\r\n")
        #expect(connection.receive(&end) == [.send(.ok)])
    }

    @Test func endlessLineIsCutOffWithoutBuffering() {
        var connection = SMTPConnection(limits: Self.limits, hostname: "relay.test")
        _ = connection.start()
        var actions: [SMTPConnection.Action] = []
        for _ in 0..<100 where !connection.isClosed {
            var junk = ByteBuffer(repeating: UInt8(ascii: "z"), count: 4096)
            actions += connection.receive(&junk)
        }
        #expect(actions == [.send(.lineTooLong), .send(.lineFlood), .close])
    }
}
