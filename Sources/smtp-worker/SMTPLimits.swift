/// Every limit the SMTP side enforces, with where it comes from. Each one has a test that trips it.
struct SMTPLimits: Equatable, Sendable {
    /// RFC 5321 §4.5.3.1.4: a command line is at most 512 octets including CRLF.
    var maxCommandLine = 512
    /// SES SendRawEmail (v1): 10 MiB per message; SIZE advertises it and DATA enforces it.
    var maxMessageSize = 10_485_760
    /// SES: at most 50 recipients per message (RFC 5321 §4.5.3.1.8 asks servers to take at least 100,
    /// §4.5.3.1.10 lets them answer 452 beyond their own limit).
    var maxRecipients = 50
    /// RFC 5321 §4.5.3.1.3: a path is at most 256 octets.
    var maxPathLength = 256
    /// A client that keeps making errors is cut off (Postfix: smtpd_hard_error_limit = 20).
    var maxErrors = 20
    /// RFC 5321 §4.5.3.2.7: the server waits at least 5 minutes for the next command.
    var idleTimeoutSeconds: Int64 = 300
}
