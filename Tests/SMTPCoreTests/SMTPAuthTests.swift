import NIOCore
import Testing

@testable import SMTPCore

/// SMTP AUTH in the session (RFC 4954, RFC 4616): offered only where it may be used, PLAIN and
/// LOGIN decoded strictly, the check left to the worker, and what a login allows.
struct SMTPAuthTests {
    static let overTLS = TLSOffer(startTLS: false, implicit: true)
    static let offer = AuthOffer(available: true)

    /// Replies, and "<check user/password>" where the session asks the worker; `accept` answers.
    static func replies(
        _ lines: [String], tls: TLSOffer = overTLS, auth: AuthOffer = offer,
        accept: (AuthAttempt) -> AuthIdentity? = { $0.password == "right" ? AuthIdentity(user: $0.user) : nil }
    ) -> [String] {
        var connection = SMTPConnection(limits: SMTPLimits(), hostname: "relay.test", tls: tls, auth: auth)
        var out: [String] = []
        var pending = connection.start()
        for line in lines {
            var bytes = ByteBuffer(string: line + "\r\n")
            pending += connection.receive(&bytes)
            while !pending.isEmpty {
                switch pending.removeFirst() {
                case .send(let reply): out.append(reply.code == 334 ? "334 \(reply.lines[0])" : SMTPSessionTests.summary(reply))
                case .authenticate(let attempt):
                    out.append("<check \(attempt.user)/\(attempt.password)>")
                    pending += connection.authenticationFinished(accept(attempt))
                default: break
                }
            }
        }
        return Array(out.dropFirst())  // the greeting
    }

    @Test func plainWithAndWithoutInitialResponse() {
        // base64("\0alice\0right") and base64("alice\0alice\0wrong")
        #expect(Self.replies(["EHLO c", "AUTH PLAIN AGFsaWNlAHJpZ2h0"]) == ["250", "<check alice/right>", "235 2.7.0"])
        #expect(Self.replies(["EHLO c", "AUTH PLAIN", "YWxpY2UAYWxpY2UAd3Jvbmc="]) == ["250", "334 ", "<check alice/wrong>", "535 5.7.8"])
    }

    @Test func loginAsksForUserThenPassword() {
        #expect(
            Self.replies(["EHLO c", "AUTH LOGIN", "YWxpY2U=", "cmlnaHQ=", "MAIL FROM:<a@b.c>"])
                == ["250", "334 VXNlcm5hbWU6", "334 UGFzc3dvcmQ6", "<check alice/right>", "235 2.7.0", "250 2.1.0"])
        #expect(Self.replies(["EHLO c", "AUTH LOGIN YWxpY2U=", "cmlnaHQ="]) == ["250", "334 UGFzc3dvcmQ6", "<check alice/right>", "235 2.7.0"])
    }

    @Test func badResponsesAreRefusedWithoutAsking() {
        #expect(Self.replies(["EHLO c", "AUTH PLAIN", "*"]) == ["250", "334 ", "501 5.0.0"])
        #expect(Self.replies(["EHLO c", "AUTH PLAIN", "not base64!"]) == ["250", "334 ", "501 5.5.2"])
        #expect(Self.replies(["EHLO c", "AUTH PLAIN YWxpY2U"]) == ["250", "501 5.5.2"], "unpadded")
        // authzid "bob" acting as alice
        #expect(Self.replies(["EHLO c", "AUTH PLAIN Ym9iAGFsaWNlAHJpZ2h0"]) == ["250", "501 5.5.2"])
        #expect(Self.replies(["EHLO c", "AUTH PLAIN ="]) == ["250", "535 5.7.8"])
        #expect(Self.replies(["EHLO c", "AUTH CRAM-MD5"]) == ["250", "504 5.5.4"])
        #expect(Self.replies(["EHLO c", "AUTH PLAIN", "*", "NOOP"]) == ["250", "334 ", "501 5.0.0", "250 2.0.0"], "back to commands")
    }

    @Test func authNeedsTLSUnlessAllowedInClear() {
        #expect(Self.replies(["EHLO c", "AUTH PLAIN AGFsaWNlAHJpZ2h0"], tls: TLSOffer(startTLS: true)) == ["250", "538 5.7.11"])
        let insecure = AuthOffer(available: true, allowInsecure: true)
        #expect(Self.replies(["EHLO c", "AUTH PLAIN AGFsaWNlAHJpZ2h0"], tls: TLSOffer(), auth: insecure) == ["250", "<check alice/right>", "235 2.7.0"])
        #expect(Self.replies(["EHLO c", "AUTH PLAIN AGFsaWNlAHJpZ2h0"], auth: AuthOffer()) == ["250", "502 5.5.1"])
    }

    @Test func ehloAdvertisesAuthOnlyWhereItCanBeUsed() {
        func advertises(tls: TLSOffer, auth: AuthOffer) -> Bool {
            var session = SMTPSession(limits: SMTPLimits(), hostname: "h", tls: tls, auth: auth)
            _ = session.start()
            guard case .reply(let reply) = session.receive(.ehlo("c")).first else { return false }
            return reply.lines.contains("AUTH PLAIN LOGIN")
        }
        #expect(advertises(tls: Self.overTLS, auth: Self.offer))
        #expect(!advertises(tls: TLSOffer(startTLS: true), auth: Self.offer))
        #expect(advertises(tls: TLSOffer(), auth: AuthOffer(available: true, allowInsecure: true)))
        #expect(!advertises(tls: Self.overTLS, auth: AuthOffer()))
    }

    @Test func requireAuthAndPerUserSenders() throws {
        let required = AuthOffer(available: true, required: true)
        #expect(Self.replies(["EHLO c", "MAIL FROM:<a@b.c>"], auth: required) == ["250", "530 5.7.0"])
        let pattern = try AddressPattern(#"@alice\.example$"#)
        let restricted: (AuthAttempt) -> AuthIdentity? = { _ in AuthIdentity(user: "alice", allowedSenders: pattern) }
        #expect(
            Self.replies(
                ["EHLO c", "AUTH PLAIN AGFsaWNlAHJpZ2h0", "MAIL FROM:<x@bob.example>", "MAIL FROM:<x@alice.example>"],
                auth: required, accept: restricted)
                == ["250", "<check alice/right>", "235 2.7.0", "550 5.7.1", "250 2.1.0"])
        #expect(
            Self.replies(["EHLO c", "AUTH PLAIN AGFsaWNlAHJpZ2h0", "AUTH PLAIN AGFsaWNlAHJpZ2h0"])
                == ["250", "<check alice/right>", "235 2.7.0", "503 5.5.1"])
        #expect(Self.replies(["EHLO c", "MAIL FROM:<a@b.c>", "AUTH PLAIN AGFsaWNlAHJpZ2h0"]) == ["250", "250 2.1.0", "503 5.5.1"])
    }

    @Test func mailAcceptsTheAuthParameter() {
        #expect(Self.replies(["EHLO c", "MAIL FROM:<a@b.c> AUTH=<>"]) == ["250", "250 2.1.0"])
    }

    @Test(arguments: ["", "QQ==", "QUI=", "QUJD", "AAEC/+8=", "////"])
    func base64DecodesWhatItShould(_ text: String) {
        let expected: [String: [UInt8]] = [
            "": [], "QQ==": [65], "QUI=": [65, 66], "QUJD": [65, 66, 67], "AAEC/+8=": [0, 1, 2, 255, 239], "////": [255, 255, 255],
        ]
        #expect(Base64Decoding.decode(text) == expected[text])
    }

    @Test(arguments: ["Q", "QQ=", "Q===", "QQ==QUJD", "QU JD", "QUJD\n", "Q=Q="])
    func base64RefusesWhatIsNotStrict(_ text: String) {
        #expect(Base64Decoding.decode(text) == nil)
    }
}
