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

/// `execute` runs on the client's transfer thread: its failures come back through the completion.
struct HTTPClientExecuteTests {
    @Test func anUnsafeHeaderAndARefusedConnectionBothComeBackAsErrors() async {
        let client = HTTPClient(configuration: HTTPClientConfiguration())
        func execute(_ headers: [(name: String, value: String)]) async -> Result<HTTPResponse, HTTPError> {
            await withCheckedContinuation { continuation in
                client.execute(HTTPRequest(method: "POST", url: "http://127.0.0.1:9/", headers: headers, body: .bytes([1, 2]))) {
                    continuation.resume(returning: $0)
                }
            }
        }
        // Nothing listens on port 9.
        guard case .failure(let refused) = await execute([]) else {
            Issue.record("a request to a closed port succeeded")
            return
        }
        #expect(refused.code == .connect && !refused.requestSent)
        guard case .failure(let unsafe) = await execute([("X-Token", "a\r\nb")]) else {
            Issue.record("a request with a split header succeeded")
            return
        }
        #expect(unsafe.code == .other && !unsafe.requestSent && unsafe.detail.hasSuffix("would not be one header line; not sent"))
    }
}
