/// The SMTP protocol as a value: commands and events in, actions out. No NIO, no clocks, no async;
/// `SMTPServerHandler` feeds it and carries out what it returns.
struct SMTPSession {
    enum State: Equatable {
        case greeting
        case ready
        case mail(Envelope)
        case data(Envelope)
        case relaying(Envelope)
        case quitting
    }

    private(set) var state: State = .greeting
    private(set) var errorCount = 0
    private var draining = false
    let limits: SMTPLimits
    let hostname: String

    init(limits: SMTPLimits, hostname: String) {
        self.limits = limits
        self.hostname = hostname
    }

    mutating func start() -> [SessionAction] {
        [.reply(.greeting(hostname: hostname))]
    }

    mutating func receive(_ command: SMTPCommand) -> [SessionAction] {
        if draining { return shutDown() }
        switch (state, command) {
        case (.quitting, _), (.data, _), (.relaying, _):
            return []  // the handler sends nothing here while DATA or a relay is in progress
        case (_, .quit):
            state = .quitting
            return [.reply(.bye), .close]
        case (_, .ehlo):
            state = .ready
            return [.reply(.ehlo(hostname: hostname, limits: limits))]
        case (_, .helo):
            state = .ready
            return [.reply(.helo(hostname: hostname))]
        case (_, .noop):
            return [.reply(.ok)]
        case (_, .rset):
            if state != .greeting { state = .ready }
            return [.reply(.ok)]
        case (_, .vrfy):
            return [.reply(.cannotVerify)]
        case (_, .help):
            return [.reply(.help)]
        case (.greeting, .mail), (.greeting, .rcpt), (.greeting, .data):
            return error(.needHello)
        case (.ready, .mail(let parameters)):
            if let size = parameters.declaredSize, size > limits.maxMessageSize {
                return error(.messageTooLarge)
            }
            state = .mail(Envelope(sender: parameters.sender))
            return [.reply(.senderOK)]
        case (.mail, .mail):
            return error(.nestedMail)
        case (.ready, .rcpt), (.ready, .data):
            return error(.needMail)
        case (.mail(var envelope), .rcpt(let recipient)):
            guard envelope.recipients.count < limits.maxRecipients else { return error(.tooManyRecipients) }
            envelope.recipients.append(recipient)
            state = .mail(envelope)
            return [.reply(.recipientOK)]
        case (.mail(let envelope), .data):
            guard !envelope.recipients.isEmpty else { return error(.needRecipient) }
            state = .data(envelope)
            return [.reply(.startData), .receiveData]
        case (_, .notImplemented):
            return error(.notImplemented)
        case (_, .unknown):
            return error(.unknownCommand)
        case (_, .invalid(let reply)):
            return error(reply)
        }
    }

    /// The command line went over `maxCommandLine`; its remainder is being discarded.
    mutating func lineTooLong() -> [SessionAction] { error(.lineTooLong) }

    /// A command line ended in a bare LF.
    mutating func badLineEnding() -> [SessionAction] { error(.badLineEnding) }

    /// The DATA terminator arrived. `overflowed`: the message went over the size limit and was dropped.
    mutating func dataFinished(overflowed: Bool) -> [SessionAction] {
        guard case .data(let envelope) = state else { preconditionFailure("dataFinished outside DATA") }
        if overflowed {
            state = .ready
            return finishTransaction(.messageTooLarge)
        }
        state = .relaying(envelope)
        return [.relay(envelope)]
    }

    /// SES answered (or could not be reached); the transaction is over either way.
    mutating func relayFinished(_ reply: SMTPReply) -> [SessionAction] {
        guard case .relaying = state else { preconditionFailure("relayFinished without a relay") }
        state = .ready
        return finishTransaction(reply)
    }

    /// The worker is stopping: an idle session is told so now, a busy one when its transaction ends.
    mutating func drain() -> [SessionAction] {
        draining = true
        switch state {
        case .data, .relaying, .quitting: return []
        default: return shutDown()
        }
    }

    mutating func idleTimeout() -> [SessionAction] {
        state = .quitting
        return [.reply(.idleTimeout), .close]
    }

    private mutating func finishTransaction(_ reply: SMTPReply) -> [SessionAction] {
        draining ? [.reply(reply)] + shutDown() : [.reply(reply)]
    }

    private mutating func shutDown() -> [SessionAction] {
        state = .quitting
        return [.reply(.shuttingDown), .close]
    }

    private mutating func error(_ reply: SMTPReply) -> [SessionAction] {
        errorCount += 1
        guard errorCount < limits.maxErrors else {
            state = .quitting
            return [.reply(reply), .reply(.tooManyErrors), .close]
        }
        return [.reply(reply)]
    }
}

/// The SMTP envelope of one transaction: MAIL FROM becomes SES's Source, every accepted RCPT one of
/// its Destinations (which is how Bcc reaches its recipients).
struct Envelope: Equatable, Sendable {
    /// Empty for `<>`: then no Source is sent and SES takes the From header.
    var sender: String
    var recipients: [String] = []
}

enum SessionAction: Equatable {
    case reply(SMTPReply)
    /// Switch the input to DATA decoding.
    case receiveData
    /// Hand the received message to SES; answer with `relayFinished`.
    case relay(Envelope)
    case close
}
