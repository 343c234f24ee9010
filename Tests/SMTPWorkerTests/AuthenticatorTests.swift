import CCryptShim
import NIOCore
import SMTPCore
import Testing

@testable import smtp_worker

/// The users file and the password check through libcrypt, with hashes made by `mkpasswd -m
/// yescrypt`, `mkpasswd -m bcrypt` and `openssl passwd -6`.
struct AuthenticatorTests {
    static let yescrypt = "$y$j9T$2SeM5VaeyVQc0w2Q0Dd2G1$Z6UNvE8/tfc117YweLsvI3xgTvhkTev7NCRELgKMYq1"  // secret-y
    static let bcrypt = "$2b$05$0ymYInn4j3XK3ZsmhZXu3.8KxFl7/jVczdxL9vMU6dwVnz17nmnwG"  // secret-b
    static let sha512 = "$6$abcdefgh$V2worIW8mW8/wZRq8t8ox21uI4/T04chiAUsJPusYnP0p1IajQHjl81uUk7n4i4PWVpu4Ppg0zPpeUyPHnbkZ1"  // secret-6

    @Test(arguments: [(yescrypt, "secret-y"), (bcrypt, "secret-b"), (sha512, "secret-6")])
    func everyAcceptedHashFormatIsChecked(_ hash: String, _ password: String) {
        #expect(shim_crypt_matches(password, hash) == 1)
        #expect(shim_crypt_matches(password + "x", hash) == 0)
        #expect(shim_crypt_matches("", hash) == 0)
    }

    @Test func unusableHashIsAnErrorNotAMatch() {
        #expect(shim_crypt_matches("x", "*") == -1)
        #expect(shim_crypt_matches("x", "$unknown$abc") == -1)
    }

    @Test func usersFileIsRead() throws {
        let text = "# relay users\n\nalice:\(Self.yescrypt)\r\nbob:\(Self.bcrypt):^bob@example\\.com$\ncarol:\(Self.sha512):\n"
        let users = try AuthUsers(parsing: Array(text.utf8))
        #expect(Set(users.users.keys) == ["alice", "bob", "carol"])
        #expect(users.users["alice"]?.hash == Self.yescrypt && users.users["alice"]?.allowedSenders == nil)
        #expect(users.users["bob"]?.allowedSenders?.matches("bob@example.com") == true)
        #expect(users.users["bob"]?.allowedSenders?.matches("eve@example.com") == false)
        #expect(users.users["carol"]?.allowedSenders == nil)
    }

    @Test(arguments: [
        ("alice", "line 1: expected user:hash"),
        ("alice:$1$md5$old", "line 1: the hash of alice is not yescrypt"),
        ("alice:plain-password", "not yescrypt, bcrypt or sha512-crypt"),
        ("a b:\(sha512)", "has blanks"),
        ("alice:\(sha512)\nalice:\(bcrypt)", "line 2: alice is listed twice"),
        ("alice:\(sha512):(unclosed", "line 1: the sender pattern of alice"),
        ("# nobody\n", "no user"),
    ])
    func badUsersFilesNameTheLine(_ text: String, _ named: String) {
        #expect {
            try AuthUsers(parsing: Array(text.utf8))
        } throws: { error in
            "\(error)".contains(named)
        }
    }

    @Test func failureDelaysDoubleThenStopAndAreForgotten() {
        let delays = FailureDelays()
        let start = NIODeadline.uptimeNanoseconds(1_000_000_000_000)
        let seen = (0..<8).map { delays.failed("192.0.2.1", now: start + .seconds(Int64($0))).nanoseconds / 1_000_000 }
        #expect(seen == [250, 500, 1000, 2000, 4000, 8000, 8000, 8000])
        #expect(delays.failed("192.0.2.2", now: start).nanoseconds == FailureDelays.first.nanoseconds, "per address")
        #expect(delays.failed("192.0.2.1", now: start + .minutes(30)).nanoseconds == FailureDelays.first.nanoseconds, "forgotten")
        delays.succeeded("192.0.2.2")
        #expect(delays.failed("192.0.2.2", now: start).nanoseconds == FailureDelays.first.nanoseconds)
    }
}

/// RFC 3848's names in the trace header.
struct ReceivedHeaderTests {
    @Test func protocolNameSaysTLSAndAuthentication() {
        #expect(ReceivedHeader.protocolName(ehlo: false, tls: true, authenticated: false) == "SMTP")
        #expect(ReceivedHeader.protocolName(ehlo: true, tls: false, authenticated: false) == "ESMTP")
        #expect(ReceivedHeader.protocolName(ehlo: true, tls: true, authenticated: false) == "ESMTPS")
        #expect(ReceivedHeader.protocolName(ehlo: true, tls: true, authenticated: true) == "ESMTPSA")
    }
}
