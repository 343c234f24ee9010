/// Signed requests to AWS APIs: query protocol (SES v1, STS: a form POSTed to the endpoint) and REST
/// (SESv2). One place for the worker's SES requests and the agent's STS requests.
extension SigV4 {
    public static let formContentType = "application/x-www-form-urlencoded; charset=utf-8"

    /// The headers of an unsigned query request (STS AssumeRoleWithWebIdentity needs no signature).
    public static func queryHeaders(endpoint: AWSEndpoint, amzDate: String) -> [(name: String, value: String)] {
        unsignedHeaders(endpoint: endpoint, contentType: formContentType, amzDate: amzDate)
    }

    /// Host, Content-Type when there is a body type, X-Amz-Date: what every request carries.
    private static func unsignedHeaders(endpoint: AWSEndpoint, contentType: String?, amzDate: String) -> [(name: String, value: String)] {
        var headers: [(name: String, value: String)] = [("Host", endpoint.hostHeader)]
        if let contentType { headers.append(("Content-Type", contentType)) }
        headers.append(("X-Amz-Date", amzDate))
        return headers
    }

    /// The headers of `body` POSTed to `endpoint`, signed with a key derived for `scope`.
    public static func signedQueryHeaders(
        endpoint: AWSEndpoint,
        body: [UInt8],
        accessKeyID: String,
        signingKey: [UInt8],
        sessionToken: String?,
        time: UTCTime,
        scope: Scope
    ) -> [(name: String, value: String)] {
        signedHeaders(
            method: "POST", endpoint: endpoint, contentType: formContentType, payloadSHA256: sha256Hex(body), accessKeyID: accessKeyID,
            signingKey: signingKey, sessionToken: sessionToken, time: time, scope: scope)
    }

    /// The headers of any request to `endpoint` (REST APIs such as SESv2 too): Host, Content-Type when
    /// there is a body type, X-Amz-Date, the session token, Authorization. `payloadSHA256`: the body's
    /// hash in hex, which a streamed body has computed beforehand.
    public static func signedHeaders(
        method: String,
        endpoint: AWSEndpoint,
        contentType: String?,
        payloadSHA256: String,
        accessKeyID: String,
        signingKey: [UInt8],
        sessionToken: String?,
        time: UTCTime,
        scope: Scope
    ) -> [(name: String, value: String)] {
        var headers = unsignedHeaders(endpoint: endpoint, contentType: contentType, amzDate: time.amzDate)
        if let sessionToken { headers.append(("X-Amz-Security-Token", sessionToken)) }
        let authorization = SigV4.authorization(
            for: SigV4.Request(method: method, path: endpoint.path, headers: headers, payloadSHA256: payloadSHA256),
            accessKeyID: accessKeyID, signingKey: signingKey, amzDate: time.amzDate, scope: scope)
        headers.append(("Authorization", authorization))
        return headers
    }

    /// `name=value&…` with SigV4's URI encoding, for small query-API bodies.
    public static func formBody(_ fields: [(String, String)]) -> [UInt8] {
        Array(fields.map { "\(uriEncode($0.0, encodeSlash: true))=\(uriEncode($0.1, encodeSlash: true))" }.joined(separator: "&").utf8)
    }
}
