import Testing

@testable import SMTPCore

/// `--allow-sender` and `--deny-recipient` inside the session: refused addresses never reach the
/// envelope, and the session goes on.
struct SMTPPolicyTests {
    static let policy = SMTPPolicy(
        allowedSenders: try! AddressPattern(#"^[^@]+@example\.com$"#), deniedRecipients: try! AddressPattern(#"(?i)@blocked\.test$"#))

    @Test func refusedSenderAndRecipientAreAnswered550AndCounted() {
        var session = SMTPSession(limits: SMTPLimits(), hostname: "relay.test", policy: Self.policy)
        _ = session.start()
        func send(_ line: String) -> [SessionAction] {
            session.receive(SMTPCommand.parse(Array(line.utf8), limits: SMTPLimits()))
        }
        _ = send("EHLO client.test")
        #expect(send("MAIL FROM:<a@example.com.evil>") == [.refusedByPolicy(.sender), .reply(.senderNotAllowed)])
        #expect(send("MAIL FROM:<a@example.com>") == [.reply(.senderOK)])
        #expect(send("RCPT TO:<x@BLOCKED.test>") == [.refusedByPolicy(.recipient), .reply(.recipientNotAllowed)])
        #expect(send("RCPT TO:<x@fine.test>") == [.reply(.recipientOK)])
        #expect(send("DATA") == [.reply(.startData), .receiveData])
        #expect(session.state == .data(Envelope(sender: "a@example.com", recipients: ["x@fine.test"])))
    }

    @Test func noPolicyAllowsEverything() {
        let policy = SMTPPolicy()
        #expect(policy.allows(sender: "") && policy.allows(sender: "any@where") && policy.allows(recipient: "x@blocked.test"))
    }

    @Test func nullSenderMustMatchToo() {
        #expect(!Self.policy.allows(sender: ""))
    }
}
