import Testing

@testable import Shared

struct AWSEndpointTests {
    @Test(arguments: [
        ("http://127.0.0.1:5000", "http://127.0.0.1:5000/", "127.0.0.1:5000", "/"),
        ("https://email.eu-west-1.amazonaws.com/", "https://email.eu-west-1.amazonaws.com/", "email.eu-west-1.amazonaws.com", "/"),
        ("HTTP://host/prefix?x#y", "http://host/prefix", "host", "/prefix"),
    ])
    func endpointOverrideIsParsed(_ url: String, _ expectedURL: String, _ host: String, _ path: String) {
        #expect(AWSEndpoint.parse(url) == AWSEndpoint(url: expectedURL, hostHeader: host, path: path))
    }

    @Test(arguments: ["ftp://host", "http://", "http://user@host/", "host:5000", "http://bad host/"])
    func badEndpointOverrideIsRefused(_ url: String) {
        #expect(AWSEndpoint.parse(url) == nil)
    }

    @Test func specificOverrideWinsAndDefaultIsRegional() throws {
        let both = ["AWS_ENDPOINT_URL": "http://general:1", "AWS_ENDPOINT_URL_SES": "http://ses:2"]
        #expect(try AWSEndpoint.resolve(serviceID: "STS", hostPrefix: "sts", environment: both, region: "us-east-1").hostHeader == "general:1")
        #expect(try AWSEndpoint.resolve(serviceID: "SES", hostPrefix: "email", environment: both, region: "us-east-1").hostHeader == "ses:2")
        #expect(try AWSEndpoint.resolve(serviceID: "STS", hostPrefix: "sts", environment: [:], region: "eu-central-1").url == "https://sts.eu-central-1.amazonaws.com/")
        #expect(throws: AWSEndpoint.Problem.invalid(variable: "AWS_ENDPOINT_URL_SES", value: "nope")) {
            try AWSEndpoint.resolve(serviceID: "SES", hostPrefix: "email", environment: ["AWS_ENDPOINT_URL_SES": "nope"], region: "us-east-1")
        }
    }
}
