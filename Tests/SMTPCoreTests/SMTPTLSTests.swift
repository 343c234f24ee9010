import NIOCore
import Testing

@testable import SMTPCore

/// STARTTLS in the session and the connection (RFC 3207): offered only with a certificate and only
/// before TLS, refused inside a transaction, and a fresh session with nothing carried over.
struct SMTPTLSTests {
    static let offer = TLSOffer(startTLS: true)

    static func replies(_ lines: [String], tls: TLSOffer = offer) -> [String] {
        var session = SMTPSession(limits: SMTPLimits(), hostname: "relay.test", tls: tls)
        _ = session.start()
        return lines.flatMap { line in
            session.receive(SMTPCommand.parse(Array(line.utf8), limits: SMTPLimits())).compactMap { action -> String? in
                switch action {
                case .reply(let reply): SMTPSessionTests.summary(reply)
                case .startTLS: "<tls>"
                default: nil
                }
            }
        }
    }

    @Test func ehloOffersStartTLSOnlyBeforeTLS() {
        var session = SMTPSession(limits: SMTPLimits(), hostname: "relay.test", tls: Self.offer)
        _ = session.start()
        let before = session.receive(.ehlo("c"))
        #expect(before == [.reply(.ehlo(hostname: "relay.test", limits: SMTPLimits(), offersStartTLS: true))])
        #expect(session.receive(.startTLS) == [.reply(.readyForTLS), .startTLS])
        #expect(session.isTLS && session.clientName == nil, "a new session: the EHLO before TLS is forgotten")
        #expect(session.receive(.ehlo("c")) == [.reply(.ehlo(hostname: "relay.test", limits: SMTPLimits(), offersStartTLS: false))])
    }

    @Test func startTLSRefusals() {
        #expect(Self.replies(["EHLO c", "STARTTLS", "STARTTLS"]) == ["250", "220 2.0.0", "<tls>", "503 5.5.1"])
        #expect(Self.replies(["EHLO c", "MAIL FROM:<a@b.c>", "STARTTLS"]) == ["250", "250 2.1.0", "503 5.5.1"])
        #expect(Self.replies(["EHLO c", "STARTTLS"], tls: TLSOffer()) == ["250", "502 5.5.1"], "no certificate, no STARTTLS")
        #expect(Self.replies(["STARTTLS now"]) == ["501 5.5.4"])
        #expect(Self.replies(["EHLO c", "STARTTLS"], tls: TLSOffer(startTLS: false, implicit: true)) == ["250", "502 5.5.1"])
    }

    @Test func requireTLSRefusesMailInClearOnly() {
        let required = TLSOffer(startTLS: true, required: true)
        #expect(Self.replies(["EHLO c", "MAIL FROM:<a@b.c>"], tls: required) == ["250", "530 5.7.0"])
        #expect(Self.replies(["EHLO c", "STARTTLS", "EHLO c", "MAIL FROM:<a@b.c>"], tls: required) == ["250", "220 2.0.0", "<tls>", "250", "250 2.1.0"])
        #expect(Self.replies(["EHLO c", "MAIL FROM:<a@b.c>"], tls: TLSOffer(required: true, implicit: true)) == ["250", "250 2.1.0"])
    }

    @Test func bytesPipelinedAfterStartTLSAreDiscarded() {
        var connection = SMTPConnection(limits: SMTPLimits(), hostname: "relay.test", tls: Self.offer)
        _ = connection.start()
        var input = ByteBuffer(string: "EHLO c\r\nSTARTTLS\r\nMAIL FROM:<injected@evil.test>\r\nRCPT TO:<x@y.z>\r\n")
        let actions = connection.receive(&input)
        #expect(actions.suffix(2) == [.send(.readyForTLS), .startTLS])
        // What follows the handshake is a new session: MAIL without EHLO is out of sequence.
        var after = ByteBuffer(string: "MAIL FROM:<a@b.c>\r\n")
        #expect(connection.receive(&after) == [.send(.needHello)])
    }
}
