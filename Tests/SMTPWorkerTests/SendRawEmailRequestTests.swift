import Foundation
import NIOCore
import SMTPCore
import Testing

@testable import smtp_worker

struct SendRawEmailRequestTests {
    @Test func bodyCarriesTheEnvelopeAndConfigurationSet() {
        let envelope = Envelope(sender: "a+b@example.com", recipients: ["to@example.net", "bcc@example.org"])
        let body = SendRawEmailRequest.body(envelope: envelope, message: ByteBuffer(string: "hi"), configurationSetName: "set-1")
        #expect(
            String(decoding: body, as: UTF8.self)
                == "Action=SendRawEmail&Version=2010-12-01&Source=a%2Bb%40example.com"
                + "&Destinations.member.1=to%40example.net&Destinations.member.2=bcc%40example.org"
                + "&ConfigurationSetName=set-1&RawMessage.Data=aGk%3D")
    }

    @Test func nullSenderSendsNoSource() {
        let body = SendRawEmailRequest.body(envelope: Envelope(sender: "", recipients: ["t@e.f"]), message: ByteBuffer(), configurationSetName: nil)
        #expect(!String(decoding: body, as: UTF8.self).contains("Source="))
    }

    @Test(arguments: 0..<64)
    func base64MatchesFoundationForEveryLengthAndByte(_ length: Int) {
        let bytes = (0..<length).map { UInt8(truncatingIfNeeded: $0 * 37 + 251) }
        var out: [UInt8] = []
        bytes.withUnsafeBytes { SendRawEmailRequest.appendBase64FormEncoded(&out, $0) }
        let expected = Data(bytes).base64EncodedString()
            .replacingOccurrences(of: "+", with: "%2B").replacingOccurrences(of: "/", with: "%2F")
            .replacingOccurrences(of: "=", with: "%3D")
        #expect(String(decoding: out, as: UTF8.self) == expected)
    }

    @Test(arguments: [
        ("http://127.0.0.1:5000", "http://127.0.0.1:5000/", "127.0.0.1:5000", "/"),
        ("https://email.eu-west-1.amazonaws.com/", "https://email.eu-west-1.amazonaws.com/", "email.eu-west-1.amazonaws.com", "/"),
        ("HTTP://host/prefix?x#y", "http://host/prefix", "host", "/prefix"),
    ])
    func endpointOverrideIsParsed(_ url: String, _ expectedURL: String, _ host: String, _ path: String) {
        #expect(SESEndpoint.parse(url) == SESEndpoint(url: expectedURL, hostHeader: host, path: path))
    }

    @Test(arguments: ["ftp://host", "http://", "http://user@host/", "host:5000", "http://bad host/"])
    func badEndpointOverrideIsRefused(_ url: String) {
        #expect(SESEndpoint.parse(url) == nil)
    }

    @Test func specificOverrideWinsAndDefaultIsRegional() throws {
        let both = ["AWS_ENDPOINT_URL": "http://general:1", "AWS_ENDPOINT_URL_SES": "http://ses:2"]
        #expect(try SESEndpoint.resolve(environment: both, region: "us-east-1").hostHeader == "ses:2")
        #expect(try SESEndpoint.resolve(environment: [:], region: "eu-central-1").url == "https://email.eu-central-1.amazonaws.com/")
        #expect(throws: SESEndpoint.Problem.invalid(variable: "AWS_ENDPOINT_URL_SES", value: "nope")) {
            try SESEndpoint.resolve(environment: ["AWS_ENDPOINT_URL_SES": "nope"], region: "us-east-1")
        }
    }
}
