/// SMTP AUTH (RFC 4954) as the session sees it: which mechanisms are offered, and the exchange of
/// one AUTH command. Verifying a password is the worker's job (crypt(3) is slow and must not run on
/// an event loop): the session only decodes what the client sent.
package struct AuthOffer: Equatable, Sendable {
    /// Users are configured (`--auth-users-file`): PLAIN and LOGIN can be offered.
    package var available: Bool
    /// Offer and accept AUTH without TLS (`--allow-insecure-auth`).
    package var allowInsecure: Bool
    /// MAIL from an unauthenticated session is refused with 530 5.7.0 (`--require-auth`).
    package var required: Bool

    package init(available: Bool = false, allowInsecure: Bool = false, required: Bool = false) {
        self.available = available
        self.allowInsecure = allowInsecure
        self.required = required
    }
}

/// A user and password the client offered, for the worker to check.
package struct AuthAttempt: Equatable, Sendable, CustomStringConvertible {
    package var user: String
    package var password: String

    package init(user: String, password: String) {
        self.user = user
        self.password = password
    }

    /// Never the password, so an attempt can be logged.
    package var description: String { "AuthAttempt(user: \(user))" }
}

/// What the worker found: nil for a wrong user or password.
package struct AuthIdentity: Equatable, Sendable {
    package var user: String
    /// The user's `user:hash:regex` restriction on MAIL FROM, if any.
    package var allowedSenders: AddressPattern?

    package init(user: String, allowedSenders: AddressPattern? = nil) {
        self.user = user
        self.allowedSenders = allowedSenders
    }

    package static func == (left: AuthIdentity, right: AuthIdentity) -> Bool {
        left.user == right.user && left.allowedSenders?.source == right.allowedSenders?.source
    }
}

/// The part of an AUTH exchange still waiting for the client's next line.
enum AuthExchange: Equatable {
    case plain
    case loginUser
    case loginPassword(user: String)
}

enum AuthDecoding {
    /// RFC 4616: `[authzid] NUL authcid NUL passwd`. An authorization identity other than the user
    /// itself would mean acting as someone else, which this relay does not do.
    static func plain(_ response: String) -> AuthAttempt? {
        guard let bytes = Base64Decoding.decode(response) else { return nil }
        let parts = bytes.split(separator: 0, maxSplits: 2, omittingEmptySubsequences: false)
        guard parts.count == 3 else { return nil }
        guard let authzid = text(parts[0]), let user = text(parts[1]), let password = text(parts[2]),
            !user.isEmpty, authzid.isEmpty || authzid == user
        else { return nil }
        return AuthAttempt(user: user, password: password)
    }

    /// One base64 line of the LOGIN exchange.
    static func login(_ response: String) -> String? {
        Base64Decoding.decode(response).flatMap { text($0[...]) }
    }

    private static func text(_ bytes: ArraySlice<UInt8>) -> String? {
        guard !bytes.contains(0) else { return nil }
        return String(validating: bytes, as: UTF8.self)
    }
}

/// Strict RFC 4648 base64 (padding required, no line breaks or blanks): what RFC 4954 asks clients to
/// send. Anything else is refused rather than guessed at.
enum Base64Decoding {
    static func decode(_ text: String) -> [UInt8]? {
        let input = Array(text.utf8)
        guard input.count % 4 == 0 else { return nil }
        var out: [UInt8] = []
        out.reserveCapacity(input.count / 4 * 3)
        var index = 0
        while index < input.count {
            var sextets: [UInt8] = []
            var padding = 0
            for byte in input[index..<index + 4] {
                if byte == UInt8(ascii: "=") {
                    padding += 1
                    sextets.append(0)
                    continue
                }
                guard padding == 0, let value = value(of: byte) else { return nil }
                sextets.append(value)
            }
            let last = index + 4 == input.count
            guard padding <= 2, padding == 0 || last else { return nil }
            let triple = UInt32(sextets[0]) << 18 | UInt32(sextets[1]) << 12 | UInt32(sextets[2]) << 6 | UInt32(sextets[3])
            out.append(UInt8(truncatingIfNeeded: triple >> 16))
            if padding < 2 { out.append(UInt8(truncatingIfNeeded: triple >> 8)) }
            if padding < 1 { out.append(UInt8(truncatingIfNeeded: triple)) }
            index += 4
        }
        return out
    }

    private static func value(of byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"): byte - UInt8(ascii: "A")
        case UInt8(ascii: "a")...UInt8(ascii: "z"): byte - UInt8(ascii: "a") + 26
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0") + 52
        case UInt8(ascii: "+"): 62
        case UInt8(ascii: "/"): 63
        default: nil
        }
    }
}
