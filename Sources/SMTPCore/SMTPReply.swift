/// A reply the worker sends, with its enhanced status code (RFC 3463) in every line. Client-visible
/// text is fixed here or built from sanitised values, never from an `Error`'s description.
package struct SMTPReply: Equatable, Sendable {
    package var code: Int
    package var lines: [String]

    package init(_ code: Int, _ enhanced: String?, _ text: String) {
        self.code = code
        self.lines = [enhanced.map { "\($0) \(text)" } ?? text]
    }

    package init(code: Int, lines: [String]) {
        self.code = code
        self.lines = lines
    }

    package var isPositive: Bool { code < 400 }
    package var isTemporary: Bool { (400..<500).contains(code) }

    /// `250-first\r\n250 last\r\n`
    package var wireText: String {
        var out = ""
        for (index, line) in lines.enumerated() {
            out += "\(code)\(index == lines.count - 1 ? " " : "-")\(line)\r\n"
        }
        return out
    }

    package static func greeting(hostname: String) -> SMTPReply { SMTPReply(220, nil, "\(hostname) ESMTP ses-smtpd-proxy") }

    package static func ehlo(hostname: String, limits: SMTPLimits, offersStartTLS: Bool = false, offersAuth: Bool = false) -> SMTPReply {
        // No SMTPUTF8: SES does not support it. No DSN: SES produces its own bounces.
        SMTPReply(
            code: 250,
            lines: [hostname, "PIPELINING", "SIZE \(limits.maxMessageSize)", "8BITMIME", "ENHANCEDSTATUSCODES", "CHUNKING"]
                + (offersStartTLS ? ["STARTTLS"] : []) + (offersAuth ? ["AUTH PLAIN LOGIN"] : [])
        )
    }

    package static func helo(hostname: String) -> SMTPReply { SMTPReply(250, nil, hostname) }

    package static let ok = SMTPReply(250, "2.0.0", "Ok")
    package static let senderOK = SMTPReply(250, "2.1.0", "Sender ok")
    package static let recipientOK = SMTPReply(250, "2.1.5", "Recipient ok")
    package static let startData = SMTPReply(354, nil, "End data with <CR><LF>.<CR><LF>")
    package static let bye = SMTPReply(221, "2.0.0", "Bye")
    package static let help = SMTPReply(214, "2.0.0", "See RFC 5321")
    package static let cannotVerify = SMTPReply(252, "2.5.0", "Cannot VRFY user, but will accept message and attempt delivery")

    package static let badSequence = SMTPReply(503, "5.5.1", "Bad sequence of commands")
    package static let needHello = SMTPReply(503, "5.5.1", "Send EHLO or HELO first")
    package static let needMail = SMTPReply(503, "5.5.1", "Send MAIL FROM first")
    package static let nestedMail = SMTPReply(503, "5.5.1", "Sender already given")
    package static let needRecipient = SMTPReply(503, "5.5.1", "Send RCPT TO first")
    package static let unknownCommand = SMTPReply(500, "5.5.1", "Command unrecognized")
    package static let notImplemented = SMTPReply(502, "5.5.1", "Command not implemented")
    package static let lineTooLong = SMTPReply(500, "5.5.6", "Line too long")
    package static let badLineEnding = SMTPReply(500, "5.5.2", "Line must end with CRLF")
    package static let syntaxError = SMTPReply(501, "5.5.4", "Syntax error in parameters or arguments")
    package static let helloNeedsDomain = SMTPReply(501, "5.5.4", "EHLO and HELO need a domain or address literal")
    package static let badSenderSyntax = SMTPReply(501, "5.1.7", "Bad sender address syntax")
    package static let badRecipientSyntax = SMTPReply(501, "5.1.3", "Bad recipient address syntax")
    package static let nonASCIIAddress = SMTPReply(553, "5.6.7", "Non-ASCII addresses are not supported (SES has no SMTPUTF8)")
    package static let unknownParameter = SMTPReply(555, "5.5.4", "Unsupported MAIL or RCPT parameter")
    package static let tooManyRecipients = SMTPReply(452, "4.5.3", "Too many recipients; send the rest in another message")
    package static let messageTooLarge = SMTPReply(552, "5.3.4", "Message too big for SES")
    package static let lineFlood = SMTPReply(421, "4.7.0", "No line end in sight, closing connection")
    package static let tooManyErrors = SMTPReply(421, "4.7.0", "Too many errors, closing connection")
    package static let idleTimeout = SMTPReply(421, "4.4.2", "Idle timeout, closing connection")
    package static let shuttingDown = SMTPReply(421, "4.3.2", "Service shutting down, try again later")
    package static let localError = SMTPReply(451, "4.3.0", "Local error in processing; try again later")
    package static let insufficientStorage = SMTPReply(452, "4.3.1", "Insufficient system storage for the message; try again later")
    package static let tooManyConnections = SMTPReply(421, "4.7.0", "Too many connections, try again later")
    package static let readyForTLS = SMTPReply(220, "2.0.0", "Ready to start TLS")
    package static let alreadyTLS = SMTPReply(503, "5.5.1", "TLS already active")
    package static let tlsDuringTransaction = SMTPReply(503, "5.5.1", "STARTTLS is not allowed during a mail transaction")
    package static let tlsRequired = SMTPReply(530, "5.7.0", "Must issue a STARTTLS command first")
    package static let authContinue = SMTPReply(code: 334, lines: [""])
    package static let authUsername = SMTPReply(code: 334, lines: ["VXNlcm5hbWU6"])  // "Username:"
    package static let authPassword = SMTPReply(code: 334, lines: ["UGFzc3dvcmQ6"])  // "Password:"
    package static let authSucceeded = SMTPReply(235, "2.7.0", "Authentication successful")
    package static let authFailed = SMTPReply(535, "5.7.8", "Authentication credentials invalid")
    package static let authCancelled = SMTPReply(501, "5.0.0", "Authentication cancelled")
    package static let authUndecodable = SMTPReply(501, "5.5.2", "Cannot decode the response")
    package static let authMechanismUnknown = SMTPReply(504, "5.5.4", "Unrecognized authentication type")
    package static let authNeedsTLS = SMTPReply(538, "5.7.11", "Encryption required for requested authentication mechanism")
    package static let authAlreadyDone = SMTPReply(503, "5.5.1", "Already authenticated")
    package static let authDuringTransaction = SMTPReply(503, "5.5.1", "AUTH is not allowed during a mail transaction")
    package static let authRequired = SMTPReply(530, "5.7.0", "Authentication required")
    package static let senderNotAllowedForUser = SMTPReply(550, "5.7.1", "Sender address not allowed for this user")
    package static let clientNotAllowed = SMTPReply(554, "5.7.1", "Your address may not use this relay")
    package static let senderNotAllowed = SMTPReply(550, "5.7.1", "Sender address not allowed by this relay")
    package static let recipientNotAllowed = SMTPReply(550, "5.7.1", "Recipient address not allowed by this relay")
    package static let mixedDataAndBDAT = SMTPReply(503, "5.5.1", "DATA and BDAT cannot be mixed in one message")

    package static func chunkReceived(_ octets: Int) -> SMTPReply { SMTPReply(250, "2.0.0", "\(octets) octets received") }

    package static func queued(messageID: String) -> SMTPReply {
        SMTPReply(250, "2.0.0", "Ok: queued as \(sanitizedToken(messageID))")
    }

    /// Keeps a peer-supplied token (SES message or request id) to characters safe in a reply line.
    package static func sanitizedToken(_ token: String) -> String {
        let allowed = token.unicodeScalars.filter {
            ($0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0))) || "-._@".unicodeScalars.contains($0)
        }
        return String(String.UnicodeScalarView(allowed.prefix(128)))
    }
}
