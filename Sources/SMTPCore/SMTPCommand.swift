/// One parsed SMTP command line. Parsing is pure; a line that does not parse becomes `.invalid`
/// carrying the reply for it.
package enum SMTPCommand: Equatable, Sendable {
    case ehlo(String)
    case helo(String)
    case mail(MailParameters)
    case rcpt(String)
    case data
    /// RFC 3030 BDAT: exactly `size` octets of message content follow the command line.
    case bdat(size: Int, last: Bool)
    case rset
    case noop
    case quit
    case vrfy
    case help
    /// RFC 3207.
    case startTLS
    /// RFC 4954: `AUTH mechanism [initial-response]`; the mechanism upper-cased.
    case auth(mechanism: String, initialResponse: String?)
    case notImplemented
    case unknown
    case invalid(SMTPReply)

    package struct MailParameters: Equatable, Sendable {
        /// Empty for the null reverse-path `<>`.
        package var sender: String
        package var declaredSize: Int?

        package init(sender: String, declaredSize: Int?) {
            self.sender = sender
            self.declaredSize = declaredSize
        }
    }

    /// Invalid UTF-8 decodes to replacement characters, which the address check then refuses as non-ASCII.
    package static func parse(_ line: [UInt8], limits: SMTPLimits) -> SMTPCommand {
        parseVerb(String(decoding: line, as: UTF8.self), limits: limits)
    }

    private static func parseVerb(_ text: String, limits: SMTPLimits) -> SMTPCommand {
        let verbEnd = text.firstIndex(of: " ") ?? text.endIndex
        let verb = text[..<verbEnd].uppercased()
        let argument = text[verbEnd...].drop(while: { $0 == " " })
        switch verb {
        case "EHLO", "HELO":
            let domain = argument.split(separator: " ").first.map(String.init) ?? ""
            guard !domain.isEmpty else { return .invalid(.helloNeedsDomain) }
            return verb == "EHLO" ? .ehlo(domain) : .helo(domain)
        case "MAIL":
            return parseMail(argument, limits: limits)
        case "RCPT":
            return parseRcpt(argument, limits: limits)
        case "DATA":
            return argument.isEmpty ? .data : .invalid(.syntaxError)
        case "BDAT":
            return parseBDAT(argument)
        case "RSET":
            return argument.isEmpty ? .rset : .invalid(.syntaxError)
        case "NOOP":
            return .noop
        case "QUIT":
            return argument.isEmpty ? .quit : .invalid(.syntaxError)
        case "VRFY":
            return .vrfy
        case "HELP":
            return .help
        case "STARTTLS":
            return argument.isEmpty ? .startTLS : .invalid(.syntaxError)
        case "AUTH":
            let words = argument.split(separator: " ")
            guard (1...2).contains(words.count) else { return .invalid(.syntaxError) }
            return .auth(mechanism: words[0].uppercased(), initialResponse: words.count == 2 ? String(words[1]) : nil)
        case "EXPN", "TURN", "ETRN", "ATRN":
            return .notImplemented
        default:
            return .unknown
        }
    }

    /// `BDAT <chunk-size> [LAST]` (RFC 3030 §2), size in decimal digits only.
    private static func parseBDAT(_ argument: Substring) -> SMTPCommand {
        let words = argument.split(separator: " ")
        guard (1...2).contains(words.count), let size = words.first.flatMap(decimalSize) else {
            return .invalid(.syntaxError)
        }
        if words.count == 2 {
            guard words[1].uppercased() == "LAST" else { return .invalid(.syntaxError) }
            return .bdat(size: size, last: true)
        }
        return .bdat(size: size, last: false)
    }

    /// A size as MAIL's SIZE= (RFC 1870) and BDAT (RFC 3030) write it: decimal digits only, bounded.
    private static func decimalSize(_ text: Substring) -> Int? {
        guard !text.isEmpty, text.count <= SMTPLimits.maxSizeDigits, text.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else {
            return nil
        }
        return Int(text, radix: 10)
    }

    private static func parseMail(_ argument: Substring, limits: SMTPLimits) -> SMTPCommand {
        guard let rest = stripPrefix("FROM:", from: argument) else { return .invalid(.syntaxError) }
        switch parsePath(rest, limits: limits, allowNull: true) {
        case .failure(let problem):
            return .invalid(problem == .nonASCII ? .nonASCIIAddress : .badSenderSyntax)
        case .success(let (sender, parameters)):
            var declaredSize: Int?
            for parameter in parameters {
                let parts = parameter.split(separator: "=", maxSplits: 1)
                let key = parts.first.map { $0.uppercased() } ?? ""
                let value = parts.count == 2 ? String(parts[1]) : nil
                switch (key, value?.uppercased()) {
                case ("SIZE", .some(let size)):
                    guard let parsed = decimalSize(Substring(size)) else { return .invalid(.syntaxError) }
                    declaredSize = parsed
                case ("BODY", "7BIT"), ("BODY", "8BITMIME"):
                    continue
                case ("AUTH", .some):
                    // RFC 4954 §5: who the client says submitted the message; we trust only our own AUTH.
                    continue
                default:
                    return .invalid(.unknownParameter)
                }
            }
            return .mail(MailParameters(sender: sender, declaredSize: declaredSize))
        }
    }

    private static func parseRcpt(_ argument: Substring, limits: SMTPLimits) -> SMTPCommand {
        guard let rest = stripPrefix("TO:", from: argument) else { return .invalid(.syntaxError) }
        switch parsePath(rest, limits: limits, allowNull: false) {
        case .failure(let problem):
            return .invalid(problem == .nonASCII ? .nonASCIIAddress : .badRecipientSyntax)
        case .success(let (recipient, parameters)):
            return parameters.isEmpty ? .rcpt(recipient) : .invalid(.unknownParameter)
        }
    }

    /// "FROM:" / "TO:", case-insensitive, tolerating spaces after the colon as many clients send them.
    private static func stripPrefix(_ prefix: String, from argument: Substring) -> Substring? {
        guard argument.count >= prefix.count, argument.prefix(prefix.count).uppercased() == prefix else { return nil }
        return argument.dropFirst(prefix.count).drop(while: { $0 == " " })
    }

    enum PathProblem: Error { case syntax, nonASCII }

    /// `<local@domain> PARAM=VALUE ...`; a source route (`<@a,@b:user@d>`) is accepted and dropped
    /// (RFC 5321 §4.1.1.3).
    private static func parsePath(
        _ text: Substring,
        limits: SMTPLimits,
        allowNull: Bool
    ) -> Result<(String, [Substring]), PathProblem> {
        guard text.first == "<", let close = text.firstIndex(of: ">") else { return .failure(.syntax) }
        var address = text[text.index(after: text.startIndex)..<close]
        let parameters = text[text.index(after: close)...].split(separator: " ")
        if let routeEnd = address.firstIndex(of: ":"), address.first == "@" {
            address = address[address.index(after: routeEnd)...]
        }
        if address.isEmpty { return allowNull ? .success(("", parameters)) : .failure(.syntax) }
        guard address.utf8.allSatisfy({ $0 < 0x80 }) else { return .failure(.nonASCII) }
        guard address.utf8.count <= limits.maxPathLength,
            address.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F && $0 != UInt8(ascii: "<") }),
            let at = address.lastIndex(of: "@"),
            at != address.startIndex,
            address.index(after: at) != address.endIndex
        else { return .failure(.syntax) }
        return .success((String(address), parameters))
    }
}
