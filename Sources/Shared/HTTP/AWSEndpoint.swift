/// Where requests to an AWS service go: `https://{prefix}.{region}.amazonaws.com/` unless
/// `AWS_ENDPOINT_URL_<SERVICE>` or `AWS_ENDPOINT_URL` say otherwise (the AWS SDKs' precedence), http
/// or https. Used by the worker for SES and by the agent for STS.
public struct AWSEndpoint: Equatable, Sendable {
    public var url: String
    /// `host[:port]` as sent in the Host header, which is signed.
    public var hostHeader: String
    public var path: String

    public init(url: String, hostHeader: String, path: String) {
        self.url = url
        self.hostHeader = hostHeader
        self.path = path
    }

    public enum Problem: Error, Equatable { case invalid(variable: String, value: String) }

    /// `serviceID` as in the variable names (`SES`, `STS`); `hostPrefix` as in the default host (`email`, `sts`).
    public static func resolve(
        serviceID: String,
        hostPrefix: String,
        environment: [String: String],
        region: String
    ) throws(Problem) -> AWSEndpoint {
        for variable in ["AWS_ENDPOINT_URL_\(serviceID)", "AWS_ENDPOINT_URL"] {
            guard let value = environment[variable], !value.isEmpty else { continue }
            guard let endpoint = parse(value) else { throw .invalid(variable: variable, value: value) }
            return endpoint
        }
        let host = "\(hostPrefix).\(region).amazonaws.com"
        return AWSEndpoint(url: "https://\(host)/", hostHeader: host, path: "/")
    }

    /// A REST resource below the endpoint: `relative` (no leading slash) joined to the endpoint's path.
    public func appending(path relative: String) -> AWSEndpoint {
        let joined = (path.hasSuffix("/") ? path : path + "/") + relative
        let origin = url.dropLast(path.count)
        return AWSEndpoint(url: origin + joined, hostHeader: hostHeader, path: joined)
    }

    public static func parse(_ url: String) -> AWSEndpoint? {
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
        return AWSEndpoint(url: "\(scheme)://\(authority)\(path)", hostHeader: String(authority), path: path)
    }
}
