import Testing

@testable import Shared

struct SupportTests {
    @Test(arguments: [
        (Int64(0), "19700101T000000Z"),
        (1_440_938_160, "20150830T123600Z"),
        (951_782_400, "20000229T000000Z"),
        (1_795_651_199, "20261125T235959Z"),
    ])
    func utcTimeFormatsAmzDate(_ epoch: Int64, _ expected: String) {
        #expect(UTCTime(epochSeconds: epoch).amzDate == expected)
    }

    @Test(arguments: [
        ("2015-08-30T12:36:00Z", Int64(1_440_938_160)),
        ("2000-02-29T00:00:00.123456Z", 951_782_400),
        ("2026-11-25T23:59:59+00:00", 1_795_651_199),
        ("1970-01-01T00:00:00Z", 0),
    ])
    func iso8601TimestampsParse(_ text: String, _ epoch: Int64) {
        #expect(UTCTime.epochSeconds(iso8601: text) == epoch)
    }

    @Test(arguments: ["2026-11-25T23:59:59", "2026-11-25T23:59:59+01:00", "2026-13-01T00:00:00Z", "yesterday", ""])
    func otherTimestampsAreRefused(_ text: String) {
        #expect(UTCTime.epochSeconds(iso8601: text) == nil)
    }

    @Test func rfc5322DateForTraceHeaders() {
        #expect(UTCTime(epochSeconds: 1_795_651_199).rfc5322 == "Wed, 25 Nov 2026 23:59:59 +0000")
        #expect(UTCTime(epochSeconds: 0).rfc5322 == "Thu, 01 Jan 1970 00:00:00 +0000")
    }

    @Test func xmlLeafIsEntityDecoded() {
        let document = Array("<R><MessageId>a&amp;b&lt;&#x41;&#66;</MessageId></R>".utf8)
        #expect(XMLText.first("MessageId", in: document) == "a&b<AB")
    }

    @Test func xmlLeafWithMarkupReadsAsAbsent() {
        #expect(XMLText.first("Code", in: Array("<Code><x/></Code>".utf8)) == nil)
        #expect(XMLText.first("Code", in: Array("<Code>a&bogus;</Code>".utf8)) == nil)
        #expect(XMLText.first("Code", in: Array("<Other>x</Other>".utf8)) == nil)
    }

    @Test func signingKeyMatchesAWSDocumentationExample() {
        // docs.aws.amazon.com, "Examples of how to derive a signing key for Signature Version 4".
        let key = SigV4.signingKey(
            secretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", date: "20120215", region: "us-east-1", service: "iam")
        #expect(SigV4.hex(key) == "f4780e2d9f65fa895f9c67b32ce1baf0b0d8a43505a000a1a9e090d414db404d")
    }

    @Test func childOptionsRefuseUnknownFlags() {
        #expect(throws: ChildOptions.UsageError.self) { try ChildOptions.parse(["--evil", "x"], allowed: ["log-level"]) }
        #expect(throws: ChildOptions.UsageError.self) { try ChildOptions.parse(["--log-level"], allowed: ["log-level"]) }
        #expect((try? ChildOptions.parse(["--log-level", "debug"], allowed: ["log-level"]))?.logLevel == .debug)
    }
}
