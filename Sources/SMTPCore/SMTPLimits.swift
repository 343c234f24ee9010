/// Every limit the SMTP side enforces, with where it comes from. Each one has a test that trips it.
package struct SMTPLimits: Equatable, Sendable {
    /// RFC 5321 §4.5.3.1.4: a command line is at most 512 octets including CRLF.
    package var maxCommandLine = 512
    /// SES SendRawEmail (v1): 10 MiB per message (`--max-message-size`); SIZE advertises it, MAIL's
    /// SIZE= and the DATA/BDAT content are held to it.
    package var maxMessageSize = 10_485_760
    /// SES: at most 50 recipients per message (RFC 5321 §4.5.3.1.8 asks servers to take at least 100,
    /// §4.5.3.1.10 lets them answer 452 beyond their own limit).
    package var maxRecipients = 50
    /// RFC 5321 §4.5.3.1.3: a path is at most 256 octets.
    package var maxPathLength = 256
    /// Past this many octets without a line end the client is not sending SMTP: it is cut off rather
    /// than discarded forever (the over-long line itself is answered 500 5.5.6 at once).
    package var maxDiscardedLine = 65_536
    /// A client that keeps making errors is cut off (Postfix: smtpd_hard_error_limit = 20).
    package var maxErrors = 20
    /// RFC 5321 §4.5.3.2.7: the server waits at least 5 minutes for the next command (`--idle-timeout`).
    package var idleTimeoutSeconds: Int64 = 300
    /// RFC 3030 §2: a BDAT size is a decimal number; more than 12 digits cannot be a real chunk.
    package static let maxSizeDigits = 12

    package init() {}
}
