import Foundation
import NIOCore
import SMTPCore
import Shared
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

    @Test func sesEndpointIsRegionalUnlessOverridden() throws {
        let both = ["AWS_ENDPOINT_URL": "http://general:1", "AWS_ENDPOINT_URL_SES": "http://ses:2"]
        #expect(try AWSEndpoint.ses(environment: both, region: "us-east-1").hostHeader == "ses:2")
        #expect(try AWSEndpoint.ses(environment: [:], region: "eu-central-1").url == "https://email.eu-central-1.amazonaws.com/")
    }
}
