import Testing

@testable import SMTPCore

/// The protocol core as a value: a dialogue in, replies and actions out. No sockets.
struct SMTPSessionTests {
    static let limits = SMTPLimits()

    /// Runs `lines` through a fresh session (after the greeting) and returns the reply codes with
    /// their enhanced codes, one string per reply: "250 2.1.0".
    static func dialogue(_ lines: [String], limits: SMTPLimits = limits) -> [String] {
        var session = SMTPSession(limits: limits, hostname: "relay.test")
        _ = session.start()
        var replies: [String] = []
        for line in lines {
            for action in session.receive(SMTPCommand.parse(Array(line.utf8), limits: limits)) {
                if case .reply(let reply) = action { replies.append(summary(reply)) }
            }
        }
        return replies
    }

    static func summary(_ reply: SMTPReply) -> String {
        let enhanced = reply.lines.last?.split(separator: " ").first.map(String.init) ?? ""
        return enhanced.first?.isNumber == true && enhanced.contains(".") ? "\(reply.code) \(enhanced)" : "\(reply.code)"
    }

    @Test func greetingNamesTheHost() {
        var session = SMTPSession(limits: Self.limits, hostname: "relay.test")
        #expect(session.start() == [.reply(SMTPReply(220, nil, "relay.test ESMTP ses-smtpd-proxy"))])
    }

    @Test func ehloAdvertisesExactlyTheseExtensions() {
        var limits = Self.limits
        limits.maxMessageSize = 7_000_000
        let reply = SMTPReply.ehlo(hostname: "relay.test", limits: limits)
        #expect(
            reply.wireText
                == "250-relay.test\r\n250-PIPELINING\r\n250-SIZE 7000000\r\n250-8BITMIME\r\n250-ENHANCEDSTATUSCODES\r\n250 CHUNKING\r\n")
        #expect(!reply.wireText.contains("SMTPUTF8"), "SES does not support SMTPUTF8")
        #expect(!reply.wireText.contains("DSN"), "SES makes its own bounces")
    }

    @Test func heloGetsAPlainGreeting() {
        #expect(Self.dialogue(["HELO c"]) == ["250"])
        #expect(SMTPReply.helo(hostname: "relay.test").wireText == "250 relay.test\r\n")
    }

    @Test(arguments: [
        (["EHLO c", "MAIL FROM:<a@b.c>", "RCPT TO:<d@e.f>", "DATA"], ["250", "250 2.1.0", "250 2.1.5", "354"]),
        (["HELO c", "MAIL FROM:<>", "RCPT TO:<d@e.f>"], ["250", "250 2.1.0", "250 2.1.5"]),
        (["MAIL FROM:<a@b.c>"], ["503 5.5.1"]),
        (["EHLO c", "RCPT TO:<d@e.f>"], ["250", "503 5.5.1"]),
        (["EHLO c", "DATA"], ["250", "503 5.5.1"]),
        (["EHLO c", "MAIL FROM:<a@b.c>", "DATA"], ["250", "250 2.1.0", "503 5.5.1"]),
        (["EHLO c", "MAIL FROM:<a@b.c>", "MAIL FROM:<a@b.c>"], ["250", "250 2.1.0", "503 5.5.1"]),
        (["EHLO c", "MAIL FROM:<a@b.c>", "RSET", "RCPT TO:<d@e.f>"], ["250", "250 2.1.0", "250 2.0.0", "503 5.5.1"]),
        (["NOOP", "VRFY x", "HELP"], ["250 2.0.0", "252 2.5.0", "214 2.0.0"]),
        (["FROB"], ["500 5.5.1"]),
        (["EXPN list"], ["502 5.5.1"]),
        (["EHLO"], ["501 5.5.4"]),
        (["EHLO c", "MAIL FROM:a@b.c"], ["250", "501 5.1.7"]),
        (["EHLO c", "MAIL FROM:<a@b.c>", "RCPT TO:<nobody>"], ["250", "250 2.1.0", "501 5.1.3"]),
        (["EHLO c", "MAIL FROM:<a@b.c> FROB=1"], ["250", "555 5.5.4"]),
        (["EHLO c", "MAIL FROM:<a@b.c> SIZE=10485761"], ["250", "552 5.3.4"]),
        (["EHLO c", "MAIL FROM:<a@b.c> SIZE=10485760 BODY=8BITMIME"], ["250", "250 2.1.0"]),
        (["EHLO c", "MAIL FROM:<jörg@b.c>"], ["250", "553 5.6.7"]),
        (["EHLO c", "MAIL FROM: <a@b.c>", "RCPT TO: <@relay.example:d@e.f>"], ["250", "250 2.1.0", "250 2.1.5"]),
        (["QUIT"], ["221 2.0.0"]),
        (["EHLO c", "BDAT 5"], ["250", "503 5.5.1"]),
        (["EHLO c", "MAIL FROM:<a@b.c>", "BDAT 5 LAST"], ["250", "250 2.1.0", "503 5.5.1"]),
        (["BDAT 1"], ["503 5.5.1"]),
        (["EHLO c", "BDAT x"], ["250", "501 5.5.4"]),
        (["EHLO c", "BDAT 5 FIRST"], ["250", "501 5.5.4"]),
        (["EHLO c", "BDAT 1234567890123"], ["250", "501 5.5.4"]),
        (["EHLO c", "MAIL FROM:<a@b.c> SIZE=-1"], ["250", "501 5.5.4"]),
        (["EHLO c", "MAIL FROM:<a@b.c> BODY=BINARYMIME"], ["250", "555 5.5.4"]),
        (["EHLO c", "MAIL FROM:<a@b.c>", "RCPT TO:<d@e.f> NOTIFY=NEVER"], ["250", "250 2.1.0", "555 5.5.4"]),
        (["EHLO c", "MAIL FROM:<a@b.c>", "RCPT TO:<dé@e.f>"], ["250", "250 2.1.0", "553 5.6.7"]),
        (["EHLO c", "MAIL FROM:<>", "RCPT TO:<>"], ["250", "250 2.1.0", "501 5.1.3"]),
        (["ehlo c", "mail from:<a@b.c>", "rcpt to:<d@e.f>", "rset", "quit"], ["250", "250 2.1.0", "250 2.1.5", "250 2.0.0", "221 2.0.0"]),
    ])
    func dialogueGetsTheseReplies(_ lines: [String], _ expected: [String]) {
        #expect(Self.dialogue(lines) == expected)
    }

    @Test func fiftyFirstRecipientIsDeferredWith452() {
        let recipients = (1...51).map { "RCPT TO:<r\($0)@e.f>" }
        let replies = Self.dialogue(["EHLO c", "MAIL FROM:<a@b.c>"] + recipients)
        #expect(replies.filter { $0 == "250 2.1.5" }.count == 50)
        #expect(replies.last == "452 4.5.3")
    }

    @Test func twentiethErrorClosesTheSession() {
        var session = SMTPSession(limits: Self.limits, hostname: "relay.test")
        _ = session.start()
        for _ in 1..<Self.limits.maxErrors {
            #expect(session.receive(.unknown) == [.reply(.unknownCommand)])
        }
        #expect(session.receive(.unknown) == [.reply(.unknownCommand), .reply(.tooManyErrors), .close])
    }

    @Test func dataHandsTheEnvelopeToTheRelayAndSessionContinues() {
        var session = SMTPSession(limits: Self.limits, hostname: "relay.test")
        _ = session.start()
        _ = session.receive(.ehlo("c"))
        _ = session.receive(.mail(.init(sender: "a@b.c", declaredSize: nil)))
        _ = session.receive(.rcpt("d@e.f"))
        _ = session.receive(.rcpt("bcc@e.f"))
        #expect(session.receive(.data) == [.reply(.startData), .receiveData])
        let envelope = Envelope(sender: "a@b.c", recipients: ["d@e.f", "bcc@e.f"])
        #expect(session.dataFinished(overflowed: false) == [.relay(envelope)])
        #expect(session.receive(.noop) == [], "nothing is answered while SES has the message")
        #expect(session.relayFinished(.queued(messageID: "m-1")) == [.reply(.queued(messageID: "m-1"))])
        #expect(session.state == .ready)
        #expect(session.receive(.mail(.init(sender: "a@b.c", declaredSize: nil))) == [.reply(.senderOK)])
    }

    @Test func overflowedMessageIsRefusedWith552AndNotRelayed() {
        var session = SMTPSession(limits: Self.limits, hostname: "relay.test")
        _ = session.start()
        _ = session.receive(.ehlo("c"))
        _ = session.receive(.mail(.init(sender: "a@b.c", declaredSize: nil)))
        _ = session.receive(.rcpt("d@e.f"))
        _ = session.receive(.data)
        #expect(session.dataFinished(overflowed: true) == [.reply(.messageTooLarge)])
        #expect(session.state == .ready)
    }

    @Test func drainAnswersIdleSessionAt421AndBusyOneAtItsNextCommand() {
        var idle = SMTPSession(limits: Self.limits, hostname: "relay.test")
        _ = idle.start()
        #expect(idle.drain() == [.reply(.shuttingDown), .close])

        var busy = SMTPSession(limits: Self.limits, hostname: "relay.test")
        _ = busy.start()
        _ = busy.receive(.ehlo("c"))
        _ = busy.receive(.mail(.init(sender: "a@b.c", declaredSize: nil)))
        _ = busy.receive(.rcpt("d@e.f"))
        _ = busy.receive(.data)
        #expect(busy.drain() == [])
        _ = busy.dataFinished(overflowed: false)
        #expect(busy.relayFinished(.queued(messageID: "m")) == [.reply(.queued(messageID: "m"))])
        var polite = busy
        #expect(polite.receive(.quit) == [.reply(.bye), .close])
        #expect(busy.receive(.mail(.init(sender: "a@b.c", declaredSize: nil))) == [.reply(.shuttingDown), .close])
    }

    @Test func idleTimeoutCloses421() {
        var session = SMTPSession(limits: Self.limits, hostname: "relay.test")
        _ = session.start()
        #expect(session.idleTimeout() == [.reply(.idleTimeout), .close])
    }

    @Test func queuedReplyKeepsOnlySafeCharactersOfTheMessageID() {
        let reply = SMTPReply.queued(messageID: "0100-abc\r\n250 fake")
        #expect(reply.wireText == "250 2.0.0 Ok: queued as 0100-abc250fake\r\n")
    }
}
