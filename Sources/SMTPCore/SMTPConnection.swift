import NIOCore

/// One client connection as a value: the client's bytes go in, what to send, relay or close comes
/// out. It owns the framer, the session and the message being received, so the NIO handler and the
/// fuzzer drive exactly the same code. Memory stays bounded: a message over the size limit is read to
/// its end and dropped, a message past the spool's memory limit goes on in a file, and input is only
/// buffered up to one command line.
package struct SMTPConnection {
    package enum Action: Equatable {
        case send(SMTPReply)
        /// Give the message to SES and call `relayFinished` with the answer; until then `process`
        /// reads no further input, so pipelined commands wait in order.
        case relay(Envelope, message: MessageBody)
        /// The message could not be stored (refused 452 4.3.1); for the log.
        case spoolFailed(SpoolError)
        case close
        /// A sender or recipient was refused by `--allow-sender` / `--deny-recipient` (for metrics).
        case refusedByPolicy(PolicyRefusal)
        /// Flush what came before, then put TLS under the session: the next bytes are a handshake.
        case startTLS
        /// Check these credentials and call `authenticationFinished`; until then no input is read.
        case authenticate(AuthAttempt)
    }

    private var session: SMTPSession
    private var framer: SMTPInputFramer
    private var input = ByteBuffer()
    private let spool: MessageSpool?
    private var message = MessageAccumulator()
    private var messageOctets = 0
    private var discardingChunk = false
    package private(set) var isRelaying = false
    package private(set) var isAuthenticating = false
    package private(set) var isClosed = false

    package init(
        limits: SMTPLimits,
        hostname: String,
        policy: SMTPPolicy = SMTPPolicy(),
        tls: TLSOffer = TLSOffer(),
        auth: AuthOffer = AuthOffer(),
        spool: MessageSpool? = nil
    ) {
        self.spool = spool
        session = SMTPSession(limits: limits, hostname: hostname, policy: policy, tls: tls, auth: auth)
        framer = SMTPInputFramer(maxLineLength: limits.maxCommandLine, maxDiscardedLine: limits.maxDiscardedLine)
    }

    package var limits: SMTPLimits { session.limits }
    package var clientName: String? { session.clientName }
    package var saidEHLO: Bool { session.saidEHLO }
    package var isTLS: Bool { session.isTLS }
    package var authenticatedUser: String? { session.authenticated?.user }

    package mutating func start() -> [Action] { carryOut(session.start()) }

    /// Appends the client's bytes and handles as much of them as can be handled now.
    package mutating func receive(_ bytes: inout ByteBuffer) -> [Action] {
        input.writeBuffer(&bytes)
        return process()
    }

    /// Handles buffered input until it runs out, a relay starts, or the connection closes.
    package mutating func process() -> [Action] {
        var actions: [Action] = []
        while !isRelaying && !isAuthenticating && !isClosed, let event = framer.next(from: &input) {
            actions += handle(event)
        }
        input.discardReadBytes()
        return actions
    }

    package mutating func relayFinished(_ reply: SMTPReply) -> [Action] {
        precondition(isRelaying, "relayFinished without a relay")
        isRelaying = false
        return carryOut(session.relayFinished(reply)) + process()
    }

    package mutating func authenticationFinished(_ identity: AuthIdentity?) -> [Action] {
        precondition(isAuthenticating, "authenticationFinished without an attempt")
        isAuthenticating = false
        return carryOut(session.authenticationFinished(identity)) + process()
    }

    package mutating func drain() -> [Action] { carryOut(session.drain()) }

    /// The idle timer fired. Ignored while SES has the message or a password is being checked: the
    /// client is waiting for us.
    package mutating func idleTimeout() -> [Action] {
        isRelaying || isAuthenticating ? [] : carryOut(session.idleTimeout())
    }

    private mutating func handle(_ event: SMTPInputFramer.Event) -> [Action] {
        switch event {
        case .line(let line):
            if session.awaitsAuthResponse {
                return carryOut(session.receiveAuthResponse(String(decoding: line, as: UTF8.self)))
            }
            return carryOut(session.receive(SMTPCommand.parse(line, limits: session.limits)))
        case .lineTooLong:
            return carryOut(session.lineTooLong())
        case .lineFlood:
            return carryOut(session.lineFlood())
        case .badLineEnding:
            return carryOut(session.badLineEnding())
        case .dataChunk(var chunk):
            guard !discardingChunk else { return [] }
            messageOctets += chunk.readableBytes
            if messageOctets <= session.limits.maxMessageSize {
                message.append(&chunk, spool: spool)
            } else {
                message = MessageAccumulator()
            }
            return []
        case .dataEnd:
            return carryOut(session.dataFinished(overflowed: overflowed))
        case .chunkEnd:
            if discardingChunk {
                discardingChunk = false
                return []
            }
            return carryOut(session.chunkFinished(octets: messageOctets, overflowed: overflowed))
        }
    }

    private var overflowed: Bool { messageOctets > session.limits.maxMessageSize }

    private mutating func carryOut(_ sessionActions: [SessionAction]) -> [Action] {
        var actions: [Action] = []
        for action in sessionActions {
            switch action {
            case .reply(let reply):
                actions.append(.send(reply))
            case .receiveData:
                startMessage()
                framer.beginData()
            case .receiveChunk(let size):
                if case .chunk(_, octets: 0, _) = session.state { startMessage() }
                framer.beginChunk(size: size)
            case .discardChunk(let size):
                discardingChunk = true
                framer.beginChunk(size: size)
            case .relay(let envelope):
                if let failure = message.failure {
                    message = MessageAccumulator()
                    actions.append(.spoolFailed(failure))
                    actions += carryOut(session.relayFinished(.insufficientStorage))
                    continue
                }
                isRelaying = true
                actions.append(.relay(envelope, message: message.body))
                message = MessageAccumulator()
            case .close:
                isClosed = true
                actions.append(.close)
            case .refusedByPolicy(let refusal):
                actions.append(.refusedByPolicy(refusal))
            case .startTLS:
                // Whatever the client pipelined after STARTTLS came in clear and must not be taken
                // for commands of the protected session.
                input.clear()
                actions.append(.startTLS)
            case .authenticate(let attempt):
                isAuthenticating = true
                actions.append(.authenticate(attempt))
            }
        }
        return actions
    }

    private mutating func startMessage() {
        message = MessageAccumulator(reserving: 64 * 1024)
        messageOctets = 0
    }
}
