/// Where SendRawEmail goes: `https://email.{region}.amazonaws.com/` unless `AWS_ENDPOINT_URL_SES` or
/// `AWS_ENDPOINT_URL` say otherwise (the AWS SDKs' precedence), http or https.
struct SESEndpoint: Equatable, Sendable {
    var url: String
    /// `host[:port]` as sent in the Host header, which is signed.
    var hostHeader: String
    var path: String

    enum Problem: Error, Equatable { case invalid(variable: String, value: String) }

    static func resolve(environment: [String: String], region: String) throws(Problem) -> SESEndpoint {
        for variable in ["AWS_ENDPOINT_URL_SES", "AWS_ENDPOINT_URL"] {
            guard let value = environment[variable], !value.isEmpty else { continue }
            guard let endpoint = parse(value) else { throw .invalid(variable: variable, value: value) }
            return endpoint
        }
        let host = "email.\(region).amazonaws.com"
        return SESEndpoint(url: "https://\(host)/", hostHeader: host, path: "/")
    }

    static func parse(_ url: String) -> SESEndpoint? {
        let lower = url.lowercased()
        guard lower.hasPrefix("http://") || lower.hasPrefix("https://") else { return nil }
        let rest = url.drop(while: { $0 != ":" }).dropFirst(3)
        let authority = rest.prefix(while: { $0 != "/" && $0 != "?" && $0 != "#" })
        var path = String(rest.dropFirst(authority.count).prefix(while: { $0 != "?" && $0 != "#" }))
        guard !authority.isEmpty, !authority.contains("@"),
            authority.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F })
        else { return nil }
        if path.isEmpty { path = "/" }
        let scheme = lower.hasPrefix("https") ? "https" : "http"
        return SESEndpoint(url: "\(scheme)://\(authority)\(path)", hostHeader: String(authority), path: path)
    }
}
