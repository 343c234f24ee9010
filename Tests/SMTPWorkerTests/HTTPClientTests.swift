import HTTPTransport
import Testing

/// Header values come from peers (session tokens from STS, Vault tokens): curl would send a CR or LF
/// in one as the start of another header, or of another request.
struct HTTPClientTests {
    @Test(arguments: [
        ("X-Amz-Security-Token", "tok\r\nHost: elsewhere"), ("X-Vault-Token", "a\nb"), ("X-Token", "a\u{0}b"),
        ("Bad Name", "v"), ("Name:", "v"), ("", "v"),
    ])
    func aHeaderThatCouldSplitTheRequestIsNotSent(_ name: String, _ value: String) {
        let client = HTTPClient(configuration: HTTPClientConfiguration())
        // Nothing listens on port 9: without the check this fails as a connect error instead.
        #expect {
            try client.perform(HTTPRequest(method: "GET", url: "http://127.0.0.1:9/", headers: [(name, value)]))
        } throws: {
            guard let error = $0 as? HTTPError else { return false }
            return error.code == .other && !error.requestSent && error.detail.hasSuffix("would not be one header line; not sent")
        }
    }
}
