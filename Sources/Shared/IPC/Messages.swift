import NIOCore

// Every message exchanged between our processes. Kinds are fixed numbers; an unknown kind closes the
// channel. Bodies are decoded completely: leftover bytes are an error, and every string has a bound.

/// A SigV4 signing key derived by the agent for one UTC date, region and service `ses`:
/// HMAC(HMAC(HMAC(HMAC("AWS4"+secret, date), region), "ses"), "aws4_request"). It can sign SES
/// requests for that day only; the secret access key never leaves the agent.
public struct SigningKey: Equatable, Sendable {
    /// `yyyymmdd`, UTC.
    public var date: String
    /// 32 bytes.
    public var key: [UInt8]

    public init(date: String, key: [UInt8]) {
        self.date = date
        self.key = key
    }
}

/// What the worker needs to sign SES requests, sent by the agent in `AgentReply.credentials`.
/// Its description never shows the keys or the session token.
public struct SESCredentials: Equatable, Sendable, CustomStringConvertible {
    public var accessKeyID: String
    public var sessionToken: String?
    public var region: String
    /// Seconds since the epoch after which AWS refuses these credentials; nil when they do not expire.
    public var expiration: Int64?
    /// Today's key, and tomorrow's shortly before UTC midnight. One or two entries.
    public var signingKeys: [SigningKey]

    public init(
        accessKeyID: String,
        sessionToken: String?,
        region: String,
        expiration: Int64?,
        signingKeys: [SigningKey]
    ) {
        self.accessKeyID = accessKeyID
        self.sessionToken = sessionToken
        self.region = region
        self.expiration = expiration
        self.signingKeys = signingKeys
    }

    public func signingKey(forDate date: String) -> SigningKey? {
        signingKeys.first { $0.date == date }
    }

    public var description: String {
        "SESCredentials(accessKeyID: <redacted>, region: \(region), expiration: \(expiration.map(String.init) ?? "none"), keys: \(signingKeys.map(\.date)))"
    }

    static let maxAccessKeyID = 128
    static let maxSessionToken = 8192
    static let maxRegion = 64
    static let maxKeys = 2

    func encode(into buffer: inout ByteBuffer) {
        buffer.writeString16(accessKeyID)
        buffer.writeString16(sessionToken ?? "")
        buffer.writeString16(region)
        buffer.writeInteger(expiration ?? 0)
        buffer.writeInteger(UInt8(signingKeys.count))
        for key in signingKeys {
            buffer.writeString16(key.date)
            buffer.writeInteger(UInt8(key.key.count))
            buffer.writeBytes(key.key)
        }
    }

    init(from buffer: inout ByteBuffer) throws(IPCError) {
        accessKeyID = try buffer.readString16(max: Self.maxAccessKeyID, field: "accessKeyID")
        let token = try buffer.readString16(max: Self.maxSessionToken, field: "sessionToken")
        sessionToken = token.isEmpty ? nil : token
        region = try buffer.readString16(max: Self.maxRegion, field: "region")
        let expires = try buffer.readIPCInteger(as: Int64.self, field: "expiration")
        expiration = expires == 0 ? nil : expires
        let count = try buffer.readIPCInteger(as: UInt8.self, field: "keyCount")
        guard count >= 1, count <= Self.maxKeys else { throw IPCError(.invalidField, "keyCount \(count)") }
        var keys: [SigningKey] = []
        for _ in 0..<count {
            let date = try buffer.readString16(max: 8, field: "date")
            let length = try buffer.readIPCInteger(as: UInt8.self, field: "keyLength")
            guard date.count == 8, length == 32, let bytes = buffer.readBytes(length: Int(length)) else {
                throw IPCError(.invalidField, "signing key")
            }
            keys.append(SigningKey(date: date, key: bytes))
        }
        signingKeys = keys
        guard !accessKeyID.isEmpty, !region.isEmpty else { throw IPCError(.invalidField, "empty key id or region") }
    }
}

/// Worker → agent. Each request carries a fresh requestID and expects the paired reply within a deadline.
public enum AgentRequest: Equatable, Sendable {
    /// kind 0x10: the current signing material.
    case credentials

    static let credentialsKind: UInt8 = 0x10

    public func frame(requestID: UInt32) -> IPCFrame {
        IPCFrame(kind: Self.credentialsKind, requestID: requestID, body: ByteBuffer())
    }

    public init(frame: IPCFrame) throws(IPCError) {
        guard frame.kind == Self.credentialsKind else { throw IPCError(.unknownKind, "agent request kind \(frame.kind)") }
        guard frame.body.readableBytes == 0 else { throw IPCError(.trailingBytes, "kind \(frame.kind)") }
        self = .credentials
    }
}

/// Agent → worker, answering an `AgentRequest` with the same requestID.
public enum AgentReply: Equatable, Sendable {
    /// kind 0x11
    case credentials(SESCredentials)
    /// kind 0x13: the agent has nothing valid to give; ask again after this many seconds.
    case unavailable(retryAfterSeconds: UInt32)

    static let credentialsKind: UInt8 = 0x11
    static let unavailableKind: UInt8 = 0x13

    public func frame(requestID: UInt32) -> IPCFrame {
        var body = ByteBuffer()
        switch self {
        case .credentials(let credentials):
            credentials.encode(into: &body)
            return IPCFrame(kind: Self.credentialsKind, requestID: requestID, body: body)
        case .unavailable(let seconds):
            body.writeInteger(seconds)
            return IPCFrame(kind: Self.unavailableKind, requestID: requestID, body: body)
        }
    }

    public init(frame: IPCFrame) throws(IPCError) {
        var body = frame.body
        switch frame.kind {
        case Self.credentialsKind:
            self = .credentials(try SESCredentials(from: &body))
        case Self.unavailableKind:
            self = .unavailable(retryAfterSeconds: try body.readIPCInteger(as: UInt32.self, field: "retryAfter"))
        default:
            throw IPCError(.unknownKind, "agent reply kind \(frame.kind)")
        }
        guard body.readableBytes == 0 else { throw IPCError(.trailingBytes, "kind \(frame.kind)") }
    }
}

/// Why a message was not relayed: the `type` label of `smtpd_email_send_fail_total`. A closed set, so
/// a child cannot create unbounded label values.
public enum SendFailureType: UInt8, CaseIterable, Sendable {
    case throttled = 1
    case rejected
    case tooLarge
    case invalid
    case sesUnavailable
    case network
    case credentials
    case unknown
    case dailyQuota
    case rateLimited
    case tooManyRecipients
    case invalidAddress
    case accessDenied
    case mailFromDomain
    case configurationSet
    case sendingPaused
    case accountSuspended
    case noAnswer
    case noMessageID

    public var label: String {
        switch self {
        case .throttled: "throttled"
        case .rejected: "rejected"
        case .tooLarge: "too_large"
        case .invalid: "invalid"
        case .sesUnavailable: "ses_unavailable"
        case .network: "network"
        case .credentials: "credentials"
        case .unknown: "unknown"
        case .dailyQuota: "daily_quota"
        case .rateLimited: "rate_limited"
        case .tooManyRecipients: "too_many_recipients"
        case .invalidAddress: "invalid_address"
        case .accessDenied: "access_denied"
        case .mailFromDomain: "mail_from_domain"
        case .configurationSet: "configuration_set"
        case .sendingPaused: "sending_paused"
        case .accountSuspended: "account_suspended"
        case .noAnswer: "no_answer"
        case .noMessageID: "no_message_id"
        }
    }
}

/// Why the worker refused a client, a sender or a recipient: the `reason` label of
/// `smtpd_policy_refusal_total`.
public enum PolicyRefusalReason: UInt8, CaseIterable, Sendable {
    case client = 1
    case sender
    case recipient

    public var label: String {
        switch self {
        case .client: "client"
        case .sender: "sender"
        case .recipient: "recipient"
        }
    }
}

/// A counter a child increments; the supervisor owns the registry and the Go original's metric names.
public enum MetricEvent: Hashable, Sendable {
    case sendSuccess
    case sendFailure(SendFailureType)
    case sesError
    case credentialRenewalSuccess
    case credentialRenewalError
    /// One more SES attempt for a message after a failure SES certainly did not act on.
    case sesRetry
    case policyRefusal(PolicyRefusalReason)
    /// A TLS handshake completed (STARTTLS or the implicit-TLS listener).
    case tlsSession
    /// An AUTH attempt was checked.
    case auth(succeeded: Bool)
}

/// Child → supervisor, one-way (requestID 0), over the control socketpair.
public enum ControlMessage: Equatable, Sendable {
    /// kind 0x01: the child is serving (worker: listening with credentials; agent: first credentials held).
    case ready
    /// kind 0x02: add `delta` to a counter.
    case metric(MetricEvent, delta: UInt32)
    /// kind 0x03, agent only: when the credentials it hands out expire (nil: they do not). No secret.
    case credentialStatus(expiration: Int64?)

    static let readyKind: UInt8 = 0x01
    static let metricKind: UInt8 = 0x02
    static let credentialStatusKind: UInt8 = 0x03

    public var frame: IPCFrame {
        var body = ByteBuffer()
        switch self {
        case .ready:
            return IPCFrame(kind: Self.readyKind, body: body)
        case .metric(let event, let delta):
            let (id, type) = event.wireValue
            body.writeInteger(id)
            body.writeInteger(type)
            body.writeInteger(delta)
            return IPCFrame(kind: Self.metricKind, body: body)
        case .credentialStatus(let expiration):
            body.writeInteger(expiration ?? 0)
            return IPCFrame(kind: Self.credentialStatusKind, body: body)
        }
    }

    public init(frame: IPCFrame) throws(IPCError) {
        var body = frame.body
        switch frame.kind {
        case Self.readyKind:
            self = .ready
        case Self.metricKind:
            let id = try body.readIPCInteger(as: UInt8.self, field: "metric")
            let type = try body.readIPCInteger(as: UInt8.self, field: "type")
            let delta = try body.readIPCInteger(as: UInt32.self, field: "delta")
            self = .metric(try MetricEvent(wireID: id, type: type), delta: delta)
        case Self.credentialStatusKind:
            let expiration = try body.readIPCInteger(as: Int64.self, field: "expiration")
            self = .credentialStatus(expiration: expiration == 0 ? nil : expiration)
        default:
            throw IPCError(.unknownKind, "control kind \(frame.kind)")
        }
        guard body.readableBytes == 0 else { throw IPCError(.trailingBytes, "kind \(frame.kind)") }
    }
}

extension MetricEvent {
    fileprivate var wireValue: (UInt8, UInt8) {
        switch self {
        case .sendSuccess: (1, 0)
        case .sendFailure(let type): (2, type.rawValue)
        case .sesError: (3, 0)
        case .credentialRenewalSuccess: (4, 0)
        case .credentialRenewalError: (5, 0)
        case .sesRetry: (6, 0)
        case .policyRefusal(let reason): (7, reason.rawValue)
        case .tlsSession: (8, 0)
        case .auth(let succeeded): (9, succeeded ? 1 : 0)
        }
    }

    fileprivate init(wireID: UInt8, type: UInt8) throws(IPCError) {
        switch (wireID, type) {
        case (1, 0): self = .sendSuccess
        case (2, _):
            guard let failure = SendFailureType(rawValue: type) else {
                throw IPCError(.invalidField, "failure type \(type)")
            }
            self = .sendFailure(failure)
        case (3, 0): self = .sesError
        case (4, 0): self = .credentialRenewalSuccess
        case (5, 0): self = .credentialRenewalError
        case (6, 0): self = .sesRetry
        case (7, _):
            guard let reason = PolicyRefusalReason(rawValue: type) else {
                throw IPCError(.invalidField, "policy refusal reason \(type)")
            }
            self = .policyRefusal(reason)
        case (8, 0): self = .tlsSession
        case (9, 0), (9, 1): self = .auth(succeeded: type == 1)
        default: throw IPCError(.invalidField, "metric \(wireID)/\(type)")
        }
    }
}

extension ByteBuffer {
    mutating func writeString16(_ string: String) {
        let bytes = Array(string.utf8)
        writeInteger(UInt16(truncatingIfNeeded: bytes.count))
        writeBytes(bytes.prefix(Int(UInt16.max)))
    }

    mutating func readString16(max: Int, field: String) throws(IPCError) -> String {
        let length = try readIPCInteger(as: UInt16.self, field: field)
        guard Int(length) <= max else { throw IPCError(.invalidField, "\(field) of \(length) bytes") }
        guard let bytes = readBytes(length: Int(length)) else { throw IPCError(.truncated, field) }
        guard let string = String(validating: bytes, as: UTF8.self) else {
            throw IPCError(.invalidField, "\(field) is not UTF-8")
        }
        return string
    }

    mutating func readIPCInteger<T: FixedWidthInteger>(as: T.Type, field: String) throws(IPCError) -> T {
        guard let value = readInteger(as: T.self) else { throw IPCError(.truncated, field) }
        return value
    }
}
