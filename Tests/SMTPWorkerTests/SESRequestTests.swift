import Foundation
import HTTPTransport
import NIOCore
import SMTPCore
import Shared
import Testing

@testable import smtp_worker

extension SESSendRequest {
    /// The whole body, read the way curl reads it, `chunk` bytes at a time.
    func body(readingBy chunk: Int = 65_536) -> [UInt8] {
        let reader = makeReader()
        var out: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: chunk)
        while case let count = buffer.withUnsafeMutableBytes({ try! reader.read(into: $0) }), count > 0 {
            out.append(contentsOf: buffer[..<count])
        }
        return out
    }

    var body: [UInt8] { body() }

    /// A message held in memory, as every message up to 256 KiB is.
    static func make(
        envelope: Envelope, trace: ByteBuffer? = nil, message: ByteBuffer, settings: SESSendSettings
    ) throws(Problem) -> SESSendRequest {
        try make(envelope: envelope, trace: trace, message: MessageBody(head: message), settings: settings)
    }
}

struct SESRequestTests {
    static let envelope = Envelope(sender: "a+b@example.com", recipients: ["to@example.net", "bcc@example.org"])

    static func text(_ request: SESSendRequest) -> String { String(decoding: request.body, as: UTF8.self) }

    static func json(_ request: SESSendRequest) throws -> [String: Any] {
        try #require(JSONSerialization.jsonObject(with: Data(request.body)) as? [String: Any])
    }

    @Test func v1BodyCarriesTheEnvelopeAndConfigurationSet() throws {
        var settings = SESSendSettings()
        settings.configurationSetName = "set-1"
        let request = try SESSendRequest.make(envelope: Self.envelope, message: ByteBuffer(string: "hi"), settings: settings)
        #expect(request.contentType == SigV4.formContentType)
        #expect(
            Self.text(request)
                == "Action=SendRawEmail&Version=2010-12-01&Source=a%2Bb%40example.com"
                + "&Destinations.member.1=to%40example.net&Destinations.member.2=bcc%40example.org"
                + "&ConfigurationSetName=set-1&RawMessage.Data=aGk%3D")
    }

    @Test func v1BodyCarriesTagsAndARNs() throws {
        var settings = SESSendSettings()
        settings.tags = [SESMessageTag(name: "app", value: "cron")!, SESMessageTag(name: "env", value: "prod")!]
        settings.sourceARN = "arn:aws:ses:us-east-1:123456789012:identity/example.com"
        settings.fromARN = "arn:aws:ses:us-east-1:123456789012:identity/from.example.com"
        settings.returnPathARN = "arn:aws:ses:us-east-1:123456789012:identity/bounce.example.com"
        let body = Self.text(try SESSendRequest.make(envelope: Self.envelope, message: ByteBuffer(string: "hi"), settings: settings))
        #expect(body.contains("&Tags.member.1.Name=app&Tags.member.1.Value=cron&Tags.member.2.Name=env&Tags.member.2.Value=prod"))
        #expect(body.contains("&SourceArn=arn%3Aaws%3Ases%3Aus-east-1%3A123456789012%3Aidentity%2Fexample.com"))
        #expect(body.contains("&FromArn=arn%3Aaws%3Ases%3Aus-east-1%3A123456789012%3Aidentity%2Ffrom.example.com"))
        #expect(body.contains("&ReturnPathArn=arn%3Aaws%3Ases%3Aus-east-1%3A123456789012%3Aidentity%2Fbounce.example.com"))
    }

    @Test func v1LeavesTheSESHeadersInTheMessage() throws {
        let message = "X-SES-CONFIGURATION-SET: other\r\nSubject: s\r\n\r\nbody\r\n"
        let body = Self.text(try SESSendRequest.make(envelope: Self.envelope, message: ByteBuffer(string: message), settings: SESSendSettings()))
        #expect(!body.contains("ConfigurationSetName"))
        #expect(body.hasSuffix(Data(message.utf8).base64EncodedString().replacingOccurrences(of: "=", with: "%3D").replacingOccurrences(of: "+", with: "%2B").replacingOccurrences(of: "/", with: "%2F")))
    }

    @Test func nullSenderSendsNoSource() throws {
        for api in [SESSendSettings.API.v1, .v2] {
            var settings = SESSendSettings()
            settings.api = api
            let body = Self.text(try SESSendRequest.make(envelope: Envelope(sender: "", recipients: ["t@e.f"]), message: ByteBuffer(), settings: settings))
            #expect(!body.contains("Source=") && !body.contains("FromEmailAddress\""))
        }
    }

    @Test func v2BodyIsJSONWithRawContentAndEveryRecipient() throws {
        var settings = SESSendSettings()
        settings.api = .v2
        settings.configurationSetName = "set-1"
        settings.tags = [SESMessageTag(name: "app", value: "cron")!]
        settings.sourceARN = "arn:aws:ses:us-east-1:123456789012:identity/example.com"
        settings.returnPathARN = "arn:aws:ses:us-east-1:123456789012:identity/bounce.example.com"
        let message = "Subject: \u{00e9}\r\n\r\n\u{0000}\u{00ff}+/body\r\n"
        let request = try SESSendRequest.make(envelope: Self.envelope, message: ByteBuffer(string: message), settings: settings)
        #expect(request.contentType == "application/json")
        let object = try Self.json(request)
        let raw = try #require(((object["Content"] as? [String: Any])?["Raw"] as? [String: Any])?["Data"] as? String)
        #expect(Data(base64Encoded: raw) == Data(message.utf8))
        #expect((object["Destination"] as? [String: Any])?["ToAddresses"] as? [String] == ["to@example.net", "bcc@example.org"])
        #expect(object["FromEmailAddress"] as? String == "a+b@example.com")
        #expect(object["FromEmailAddressIdentityArn"] as? String == settings.sourceARN, "v2 has no SourceArn: the From identity stands in")
        #expect(object["FeedbackForwardingEmailAddressIdentityArn"] as? String == settings.returnPathARN)
        #expect(object["ConfigurationSetName"] as? String == "set-1")
        #expect(object["EmailTags"] as? [[String: String]] == [["Name": "app", "Value": "cron"]])
    }

    @Test func v2EscapesQuotedLocalParts() throws {
        var settings = SESSendSettings()
        settings.api = .v2
        let envelope = Envelope(sender: #""a\"b"@example.com"#, recipients: ["\"x y\"@example.net"])
        let object = try Self.json(try SESSendRequest.make(envelope: envelope, message: ByteBuffer(string: "x"), settings: settings))
        #expect(object["FromEmailAddress"] as? String == #""a\"b"@example.com"#)
        #expect((object["Destination"] as? [String: Any])?["ToAddresses"] as? [String] == ["\"x y\"@example.net"])
    }

    @Test func v2LiftsTheSESHeadersAndRemovesThem() throws {
        var settings = SESSendSettings()
        settings.api = .v2
        settings.configurationSetName = "default-set"
        settings.tags = [SESMessageTag(name: "app", value: "cron")!, SESMessageTag(name: "env", value: "prod")!]
        let message = "Received: from x\r\n\tby y\r\nX-SES-CONFIGURATION-SET: per-message\r\nSubject: s\r\n"
            + "x-ses-message-tags: env=staging,\r\n campaign=42\r\nTo: t@example.net\r\n\r\nX-SES-MESSAGE-TAGS: body=stays\r\n"
        let object = try Self.json(try SESSendRequest.make(envelope: Self.envelope, message: ByteBuffer(string: message), settings: settings))
        let raw = try #require(((object["Content"] as? [String: Any])?["Raw"] as? [String: Any])?["Data"] as? String)
        #expect(
            String(decoding: Data(base64Encoded: raw)!, as: UTF8.self)
                == "Received: from x\r\n\tby y\r\nSubject: s\r\nTo: t@example.net\r\n\r\nX-SES-MESSAGE-TAGS: body=stays\r\n")
        #expect(object["ConfigurationSetName"] as? String == "per-message")
        #expect(
            object["EmailTags"] as? [[String: String]]
                == [["Name": "app", "Value": "cron"], ["Name": "env", "Value": "staging"], ["Name": "campaign", "Value": "42"]])
    }

    @Test(arguments: [
        "X-SES-MESSAGE-TAGS: a=b;c\r\n\r\n",
        "X-SES-MESSAGE-TAGS: a\r\n\r\n",
        "X-SES-CONFIGURATION-SET: two words\r\n\r\n",
        "X-SES-CONFIGURATION-SET: a\r\nX-SES-CONFIGURATION-SET: b\r\n\r\n",
    ])
    func v2RefusesHeadersItCannotHonour(_ message: String) throws {
        var settings = SESSendSettings()
        settings.api = .v2
        #expect(throws: SESSendRequest.Problem.self) {
            try SESSendRequest.make(envelope: Self.envelope, message: ByteBuffer(string: message), settings: settings)
        }
        let failure = SESFailure.unliftableHeader(LiftedSESHeaders.Problem(field: "X-SES-MESSAGE-TAGS", detail: "a;c\r\n"))
        #expect(failure.disposition.reply.code == 554)
        #expect(!failure.disposition.reply.wireText.contains("a;c"), "the header's value stays out of the reply")
    }

    @Test func headerSectionEndsAtTheEmptyLineOrAtTheFirstNonHeaderLine() {
        let ended = HeaderSection.fields(of: ByteBuffer(string: "A: 1\r\nB : 2\n\nC: 3\r\n"))
        #expect(ended.fields.map(\.name) == ["a", "b"] && ended.complete)
        let bodyLine = HeaderSection.fields(of: ByteBuffer(string: "A: 1\r\nnot a header\r\nC: 3\r\n"))
        #expect(bodyLine.fields.map(\.name) == ["a"] && bodyLine.complete)
        let cut = HeaderSection.fields(of: ByteBuffer(string: "A: 1\r\nB: 2"))
        #expect(cut.fields.map(\.name) == ["a", "b"] && !cut.complete)
        #expect(HeaderSection.fields(of: ByteBuffer(string: "")).fields.isEmpty)
    }

    @Test(arguments: 0..<64)
    func base64MatchesFoundationForEveryLengthAndByte(_ length: Int) {
        let bytes = (0..<length).map { UInt8(truncatingIfNeeded: $0 * 37 + 251) }
        var form: [UInt8] = []
        var plain: [UInt8] = []
        bytes.withUnsafeBytes {
            Base64.append(&form, $0, formEncoded: true)
            Base64.append(&plain, $0, formEncoded: false)
        }
        let expected = Data(bytes).base64EncodedString()
        #expect(String(decoding: plain, as: UTF8.self) == expected)
        #expect(
            String(decoding: form, as: UTF8.self)
                == expected.replacingOccurrences(of: "+", with: "%2B").replacingOccurrences(of: "/", with: "%2F")
                .replacingOccurrences(of: "=", with: "%3D"))
    }

    /// Made in blocks while curl sends: the same bytes whatever curl's buffer size, with the trace
    /// header and the message encoded as one (groups of three span the two), and the length and hash
    /// that were signed are those of the bytes sent.
    @Test(arguments: [SESSendSettings.API.v1, .v2])
    func theStreamedBodyIsTheWholeBodyWhateverTheReadSize(_ api: SESSendSettings.API) throws {
        var settings = SESSendSettings()
        settings.api = api
        let message = (0..<(SESBodyReader.blockBytes * 2 + 7)).map { UInt8(truncatingIfNeeded: $0 &* 131 &+ 7) }
        let trace = "Received: from x\r\n"
        let request = try SESSendRequest.make(
            envelope: Self.envelope, trace: ByteBuffer(string: trace), message: ByteBuffer(bytes: message), settings: settings)
        let whole = request.body
        #expect(whole.count == request.length)
        #expect(SigV4.sha256Hex(whole) == request.payloadSHA256)
        for chunk in [1, 7, 16_384, 1 << 20] {
            #expect(request.body(readingBy: chunk) == whole, "read by \(chunk)")
        }
        let encoded = Data(Array(trace.utf8) + message).base64EncodedString()
        let expected = api == .v1
            ? encoded.replacingOccurrences(of: "+", with: "%2B").replacingOccurrences(of: "/", with: "%2F")
                .replacingOccurrences(of: "=", with: "%3D")
            : encoded
        #expect(String(decoding: whole, as: UTF8.self).contains(expected))
    }

    /// `bytes` with the first `inMemory` of them in memory and the rest in an unnamed file, as the
    /// SMTP side hands over a message past its memory limit.
    static func spooled(_ bytes: [UInt8], inMemory: Int) throws -> MessageBody {
        let file = try MessageSpool.unnamedFiles(in: "/var/tmp").open()
        let rest = Array(bytes[inMemory...])
        #expect(rest.withUnsafeBytes { write(file.descriptor, $0.baseAddress, $0.count) } == rest.count)
        return MessageBody(head: ByteBuffer(bytes: bytes[..<inMemory]), spooled: SpooledOctets(file: file, length: rest.count))
    }

    /// A spooled message sends exactly the bytes the same message held in memory sends, with the
    /// same signed length and hash, whatever curl's read size and wherever the file part starts.
    @Test(arguments: [SESSendSettings.API.v1, .v2])
    func aSpooledMessageIsSentAsTheSameBytes(_ api: SESSendSettings.API) throws {
        var settings = SESSendSettings()
        settings.api = api
        let message = Array("Subject: s\r\n\r\n".utf8) + (0..<(SESBodyReader.blockBytes * 3 + 5)).map { UInt8(truncatingIfNeeded: $0 &* 97 &+ 3) }
        let trace = ByteBuffer(string: "Received: from x\r\n")
        let inMemory = try SESSendRequest.make(envelope: Self.envelope, trace: trace, message: ByteBuffer(bytes: message), settings: settings)
        // v2 reads the header section, which must then be in memory (14 octets); v1 does not.
        let splits = (api == .v1 ? [0, 1] : []) + [16, SESBodyReader.blockBytes - 1, SESBodyReader.blockBytes * 2 + 1]
        for split in splits {
            let request = try SESSendRequest.make(
                envelope: Self.envelope, trace: trace, message: try Self.spooled(message, inMemory: split), settings: settings)
            #expect(request.length == inMemory.length && request.payloadSHA256 == inMemory.payloadSHA256, "split at \(split)")
            #expect(request.body(readingBy: 7_000) == inMemory.body, "split at \(split)")
            #expect(request.encoded == nil, "a spooled message is never held whole (split at \(split))")
        }
        // What is sent for the message held in memory is what was hashed: the same bytes as streamed.
        #expect(inMemory.encoded == inMemory.body)
        guard case .bytes(let sent) = inMemory.httpBody else {
            Issue.record("a message in memory is streamed")
            return
        }
        #expect(SigV4.sha256Hex(sent) == inMemory.payloadSHA256)
    }

    @Test func v2LiftsTheSESHeadersOfASpooledMessageWithoutCopyingIt() throws {
        var settings = SESSendSettings()
        settings.api = .v2
        let headers = "X-SES-CONFIGURATION-SET: per-message\r\nSubject: s\r\n\r\n"
        let rest = String(repeating: "body line\r\n", count: 10_000)
        let body = try Self.spooled(Array((headers + rest).utf8), inMemory: 100)
        let lifted = try #require(try LiftedSESHeaders.lift(from: body))
        #expect(lifted.headers.configurationSetName == "per-message")
        #expect(lifted.pieces.count == 2, "the in-memory part after the field, then the file")
        let object = try Self.json(try SESSendRequest.make(envelope: Self.envelope, message: body, settings: settings))
        let raw = try #require(((object["Content"] as? [String: Any])?["Raw"] as? [String: Any])?["Data"] as? String)
        #expect(String(decoding: Data(base64Encoded: raw)!, as: UTF8.self) == "Subject: s\r\n\r\n" + rest)
    }

    /// With v2 the headers are looked at: a header section that goes on into the spool file is
    /// refused by name rather than lifted in part.
    @Test func v2RefusesAHeaderSectionLongerThanTheInMemoryPart() throws {
        var settings = SESSendSettings()
        settings.api = .v2
        let message = Array(("Subject: s\r\n" + String(repeating: "X-Long: 0123456789\r\n", count: 20) + "\r\nbody\r\n").utf8)
        let body = try Self.spooled(message, inMemory: 200)
        #expect(throws: SESSendRequest.Problem.header(.headerSectionTooLong(inMemory: 200))) {
            try SESSendRequest.make(envelope: Self.envelope, message: body, settings: settings)
        }
        let reply = SESFailure.unliftableHeader(.headerSectionTooLong(inMemory: 200)).disposition.reply
        #expect(reply.wireText == "554 5.6.0 Message refused: its header section is longer than 200 octets\r\n")
        settings.api = .v1
        #expect(try SESSendRequest.make(envelope: Self.envelope, message: body, settings: settings).length > 0, "v1 sends it as it is")
        #expect(try Self.spooled(message, inMemory: message.count - 1).readableBytes == message.count)
    }

    @Test func anEmptyMessageIsAnEmptyDataField() throws {
        let request = try SESSendRequest.make(envelope: Self.envelope, message: ByteBuffer(), settings: SESSendSettings())
        #expect(Self.text(request).hasSuffix("&RawMessage.Data="))
        #expect(request.length == request.body.count)
    }

    @Test func jsonStringEscapesEveryControlCharacter() throws {
        let text = String(decoding: (0..<0x80).map { UInt8($0) }, as: UTF8.self) + "\u{00e9}\u{1F600}"
        var out: [UInt8] = []
        JSONString.append(&out, text)
        #expect(try JSONSerialization.jsonObject(with: Data(out), options: .fragmentsAllowed) as? String == text)
    }

    @Test func endpointsFollowTheSDKVariables() throws {
        let all = ["AWS_ENDPOINT_URL": "http://general:1", "AWS_ENDPOINT_URL_SES": "http://ses:2", "AWS_ENDPOINT_URL_SESV2": "http://v2:3/base"]
        #expect(try AWSEndpoint.ses(api: .v1, environment: all, region: "us-east-1").hostHeader == "ses:2")
        let v2 = try AWSEndpoint.ses(api: .v2, environment: all, region: "us-east-1").appending(path: "v2/email/outbound-emails")
        #expect(v2.url == "http://v2:3/base/v2/email/outbound-emails" && v2.path == "/base/v2/email/outbound-emails")
        #expect(try AWSEndpoint.ses(api: .v2, environment: ["AWS_ENDPOINT_URL": "http://g:1"], region: "x").url == "http://g:1/")
        let regional = try AWSEndpoint.ses(api: .v2, environment: [:], region: "eu-central-1").appending(path: "v2/email/account")
        #expect(regional.url == "https://email.eu-central-1.amazonaws.com/v2/email/account")
    }
}
