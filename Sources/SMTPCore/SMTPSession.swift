/// The SMTP protocol as a value: commands and events in, actions out. No NIO, no clocks, no async;
/// `SMTPServerHandler` feeds it and carries out what it returns.
package struct SMTPSession {
    package enum State: Equatable {
        case greeting
        case ready
        case mail(Envelope)
        case data(Envelope)
        /// RFC 3030: between BDAT chunks of one message; `octets` received so far.
        case bdat(Envelope, octets: Int)
        /// A BDAT chunk is arriving; `last` if it ends the message.
        case chunk(Envelope, octets: Int, last: Bool)
        case relaying(Envelope)
        /// The worker is checking an AUTH attempt; answer with `authenticationFinished`.
        case authenticating
        case quitting
    }

    package private(set) var state: State = .greeting
    package private(set) var errorCount = 0
    /// The name the client gave in EHLO or HELO, and which of the two it used (for a trace header).
    package private(set) var clientName: String?
    package private(set) var saidEHLO = false
    private var draining = false
    package let limits: SMTPLimits
    package let hostname: String
    package let policy: SMTPPolicy
    package let tls: TLSOffer
    /// The session runs over TLS: from the start (implicit TLS) or since STARTTLS.
    package private(set) var isTLS: Bool
    package let auth: AuthOffer
    /// Who logged in with AUTH, for the session's remaining transactions.
    package private(set) var authenticated: AuthIdentity?
    private var authExchange: AuthExchange?

    package init(
        limits: SMTPLimits,
        hostname: String,
        policy: SMTPPolicy = SMTPPolicy(),
        tls: TLSOffer = TLSOffer(),
        auth: AuthOffer = AuthOffer()
    ) {
        self.limits = limits
        self.hostname = hostname
        self.policy = policy
        self.tls = tls
        self.isTLS = tls.implicit
        self.auth = auth
    }

    /// AUTH can be offered now: configured, protected by TLS (or allowed in clear), not done yet.
    private var offersAuth: Bool { auth.available && (isTLS || auth.allowInsecure) && authenticated == nil }

    /// The next line is the client's answer to a 334 challenge, not a command.
    package var awaitsAuthResponse: Bool { authExchange != nil }

    package mutating func start() -> [SessionAction] {
        [.reply(.greeting(hostname: hostname))]
    }

    package mutating func receive(_ command: SMTPCommand) -> [SessionAction] {
        if draining, !isBusy {
            // The client's next command after its transaction: QUIT ends politely, anything else learns
            // the server is going away (RFC 5321 §3.8).
            if command == .quit { return receiveQuit() }
            return shutDown()
        }
        switch (state, command) {
        case (.quitting, _), (.data, _), (.chunk, _), (.relaying, _), (.authenticating, _):
            return []  // the handler sends nothing here while content or a relay is in progress
        case (_, .bdat(let size, _)) where !isAcceptingChunks:
            return error(bdatRefusal) + [.discardChunk(size: size)]
        case (_, .quit):
            return receiveQuit()
        case (_, .ehlo(let name)):
            state = .ready
            (clientName, saidEHLO) = (name, true)
            return [.reply(.ehlo(hostname: hostname, limits: limits, offersStartTLS: tls.startTLS && !isTLS, offersAuth: offersAuth))]
        case (_, .helo(let name)):
            state = .ready
            (clientName, saidEHLO) = (name, false)
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
        case (_, .startTLS):
            return receiveStartTLS()
        case (.greeting, .mail), (.greeting, .rcpt), (.greeting, .data):
            return error(.needHello)
        case (_, .auth(let mechanism, let initialResponse)):
            return receiveAuth(mechanism: mechanism, initialResponse: initialResponse)
        case (.ready, .mail) where tls.required && !isTLS:
            return error(.tlsRequired)
        case (.ready, .mail) where auth.required && authenticated == nil:
            return error(.authRequired)
        case (.ready, .mail(let parameters)) where authenticated?.allowedSenders.map({ !$0.matches(parameters.sender) }) ?? false:
            return [.refusedByPolicy(.sender)] + error(.senderNotAllowedForUser)
        case (.ready, .mail(let parameters)):
            if let size = parameters.declaredSize, size > limits.maxMessageSize {
                return error(.messageTooLarge)
            }
            guard policy.allows(sender: parameters.sender) else {
                return [.refusedByPolicy(.sender)] + error(.senderNotAllowed)
            }
            state = .mail(Envelope(sender: parameters.sender))
            return [.reply(.senderOK)]
        case (.mail, .mail), (.bdat, .mail):
            return error(.nestedMail)
        case (.ready, .rcpt), (.ready, .data):
            return error(.needMail)
        case (.mail(var envelope), .rcpt(let recipient)):
            guard envelope.recipients.count < limits.maxRecipients else { return error(.tooManyRecipients) }
            guard policy.allows(recipient: recipient) else {
                return [.refusedByPolicy(.recipient)] + error(.recipientNotAllowed)
            }
            envelope.recipients.append(recipient)
            state = .mail(envelope)
            return [.reply(.recipientOK)]
        case (.mail(let envelope), .data):
            guard !envelope.recipients.isEmpty else { return error(.needRecipient) }
            state = .data(envelope)
            return [.reply(.startData), .receiveData]
        case (.mail(let envelope), .bdat(let size, let last)):
            state = .chunk(envelope, octets: 0, last: last)
            return [.receiveChunk(size: size)]
        case (.bdat(let envelope, let octets), .bdat(let size, let last)):
            state = .chunk(envelope, octets: octets, last: last)
            return [.receiveChunk(size: size)]
        case (.bdat, .data):
            return error(.mixedDataAndBDAT)
        case (.bdat, .rcpt):
            return error(.badSequence)
        case (_, .bdat(let size, _)):
            return error(.badSequence) + [.discardChunk(size: size)]
        case (_, .notImplemented):
            return error(.notImplemented)
        case (_, .unknown):
            return error(.unknownCommand)
        case (_, .invalid(let reply)):
            return error(reply)
        }
    }

    /// RFC 3207 §4.2: after 220 the session starts over, as if just connected; what the client sent
    /// before the handshake is discarded by the connection (the CVE-2011-0411 class of injection).
    private mutating func receiveStartTLS() -> [SessionAction] {
        guard tls.startTLS else { return error(.notImplemented) }
        guard !isTLS else { return error(.alreadyTLS) }
        switch state {
        case .greeting, .ready:
            state = .greeting
            (clientName, saidEHLO, isTLS, authenticated) = (nil, false, true, nil)
            return [.reply(.readyForTLS), .startTLS]
        default:
            return error(.tlsDuringTransaction)
        }
    }

    private mutating func receiveAuth(mechanism: String, initialResponse: String?) -> [SessionAction] {
        guard auth.available else { return error(.notImplemented) }
        guard authenticated == nil else { return error(.authAlreadyDone) }
        switch state {
        case .greeting: return error(.needHello)
        case .ready: break
        default: return error(.authDuringTransaction)
        }
        guard isTLS || auth.allowInsecure else { return error(.authNeedsTLS) }
        switch (mechanism, initialResponse) {
        case ("PLAIN", nil):
            authExchange = .plain
            return [.reply(.authContinue)]
        case ("LOGIN", nil):
            authExchange = .loginUser
            return [.reply(.authUsername)]
        case ("PLAIN", let response?), ("LOGIN", let response?):
            authExchange = mechanism == "PLAIN" ? .plain : .loginUser
            return receiveAuthResponse(response)
        default:
            return error(.authMechanismUnknown)
        }
    }

    /// The client's line after a 334: `*` cancels (RFC 4954 §4), anything else must be base64.
    package mutating func receiveAuthResponse(_ line: String) -> [SessionAction] {
        guard let exchange = authExchange else { preconditionFailure("an AUTH response outside AUTH") }
        authExchange = nil
        if line == "*" { return error(.authCancelled) }
        switch exchange {
        case .plain:
            // "=" is the empty initial response: no credentials at all.
            guard let attempt = AuthDecoding.plain(line) else { return error(line == "=" ? .authFailed : .authUndecodable) }
            state = .authenticating
            return [.authenticate(attempt)]
        case .loginUser:
            guard let user = AuthDecoding.login(line), !user.isEmpty else { return error(.authUndecodable) }
            authExchange = .loginPassword(user: user)
            return [.reply(.authPassword)]
        case .loginPassword(let user):
            guard let password = AuthDecoding.login(line) else { return error(.authUndecodable) }
            state = .authenticating
            return [.authenticate(AuthAttempt(user: user, password: password))]
        }
    }

    /// The worker checked the attempt: `identity` nil for a wrong user or password.
    package mutating func authenticationFinished(_ identity: AuthIdentity?) -> [SessionAction] {
        guard state == .authenticating else { preconditionFailure("authenticationFinished without an attempt") }
        state = .ready
        guard let identity else { return error(.authFailed) }
        authenticated = identity
        return [.reply(.authSucceeded)]
    }

    private mutating func receiveQuit() -> [SessionAction] {
        state = .quitting
        return [.reply(.bye), .close]
    }

    /// Content or a relay is in progress: the handler feeds no commands now.
    private var isBusy: Bool {
        switch state {
        case .data, .chunk, .relaying, .authenticating, .quitting: true
        default: false
        }
    }

    /// BDAT needs a sender and at least one recipient; chunks of one message follow each other.
    private var isAcceptingChunks: Bool {
        switch state {
        case .mail(let envelope): !envelope.recipients.isEmpty
        case .bdat: true
        default: false
        }
    }

    private var bdatRefusal: SMTPReply {
        switch state {
        case .greeting: .needHello
        case .mail: .needRecipient
        default: .needMail
        }
    }

    /// The command line went over `maxCommandLine`; its remainder is being discarded.
    package mutating func lineTooLong() -> [SessionAction] {
        authExchange = nil
        return error(.lineTooLong)
    }

    /// The client sent `maxDiscardedLine` octets without a line end: not SMTP, so cut it off.
    package mutating func lineFlood() -> [SessionAction] {
        state = .quitting
        return [.reply(.lineFlood), .close]
    }

    /// A command line ended in a bare LF.
    package mutating func badLineEnding() -> [SessionAction] {
        authExchange = nil
        return error(.badLineEnding)
    }

    /// The DATA terminator arrived. `overflowed`: the message went over the size limit and was dropped.
    package mutating func dataFinished(overflowed: Bool) -> [SessionAction] {
        guard case .data(let envelope) = state else { preconditionFailure("dataFinished outside DATA") }
        if overflowed {
            state = .ready
            return [.reply(.messageTooLarge)]
        }
        state = .relaying(envelope)
        return [.relay(envelope)]
    }

    /// The last octet of a BDAT chunk arrived; `octets` is the message's size so far. A message over
    /// the limit is still read to its LAST chunk (RFC 3030 keeps the client sending), then refused.
    package mutating func chunkFinished(octets: Int, overflowed: Bool) -> [SessionAction] {
        guard case .chunk(let envelope, _, let last) = state else { preconditionFailure("chunkFinished outside BDAT") }
        guard last else {
            state = .bdat(envelope, octets: octets)
            return [.reply(.chunkReceived(octets))]
        }
        if overflowed {
            state = .ready
            return [.reply(.messageTooLarge)]
        }
        state = .relaying(envelope)
        return [.relay(envelope)]
    }

    /// SES answered (or could not be reached); the transaction is over either way.
    package mutating func relayFinished(_ reply: SMTPReply) -> [SessionAction] {
        guard case .relaying = state else { preconditionFailure("relayFinished without a relay") }
        state = .ready
        return [.reply(reply)]
    }

    /// The worker is stopping: an idle session is told so now; a busy one finishes its transaction and
    /// is told at its next command.
    package mutating func drain() -> [SessionAction] {
        draining = true
        return isBusy ? [] : shutDown()
    }

    package mutating func idleTimeout() -> [SessionAction] {
        state = .quitting
        return [.reply(.idleTimeout), .close]
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
package struct Envelope: Equatable, Sendable {
    /// Empty for `<>`: then no Source is sent and SES takes the From header.
    package var sender: String
    package var recipients: [String] = []

    package init(sender: String, recipients: [String] = []) {
        self.sender = sender
        self.recipients = recipients
    }
}

package enum SessionAction: Equatable {
    case reply(SMTPReply)
    /// Switch the input to DATA decoding.
    case receiveData
    /// Take the next `size` octets as message content; answer with `chunkFinished`.
    case receiveChunk(size: Int)
    /// Take the next `size` octets off the stream and drop them (a refused BDAT).
    case discardChunk(size: Int)
    /// Hand the received message to SES; answer with `relayFinished`.
    case relay(Envelope)
    case close
    /// Count a refusal by policy; the reply follows as its own action.
    case refusedByPolicy(PolicyRefusal)
    /// Send the reply before it in clear, then begin the TLS handshake.
    case startTLS
    /// Check the user and password; answer with `authenticationFinished`.
    case authenticate(AuthAttempt)
}

/// What the session offers of TLS (`--tls-cert`, `--require-tls`, `--tls-listen`).
package struct TLSOffer: Equatable, Sendable {
    /// STARTTLS is advertised and accepted.
    package var startTLS: Bool
    /// MAIL before TLS is refused with 530 5.7.0.
    package var required: Bool
    /// The connection came in on the implicit-TLS listener: TLS from the first byte.
    package var implicit: Bool

    package init(startTLS: Bool = false, required: Bool = false, implicit: Bool = false) {
        self.startTLS = startTLS
        self.required = required
        self.implicit = implicit
    }
}
