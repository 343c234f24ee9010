// The last two steps of the AWS credential chain, both plain HTTP on a link-local or loopback
// address: the container credential endpoint (ECS task roles, EKS Pod Identity) and EC2's instance
// metadata service, IMDSv2 only (a session token first, so a server-side request forgery through
// some other process on the host cannot read the role's keys with a bare GET).
import CredentialDocuments
import FoundationEssentials
import HTTPTransport
import Shared

#if canImport(Glibc)
import Glibc
#endif

extension HTTPClient {
    /// For endpoints on the host or the link: an absent one must fail fast (the SDKs wait 1 s), a
    /// present one answers in milliseconds.
    static let metadata: HTTPClient = {
        var settings = HTTPClientConfiguration()
        settings.connectTimeoutMilliseconds = 1000
        settings.totalTimeoutMilliseconds = 5000
        settings.maxResponseBytes = 64 * 1024
        return HTTPClient(configuration: settings)
    }()
}

/// `AWS_CONTAINER_CREDENTIALS_RELATIVE_URI` (ECS) or `_FULL_URI` (EKS Pod Identity, Greengrass), with
/// the authorization token from `AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE` (read at every fetch) or
/// `AWS_CONTAINER_AUTHORIZATION_TOKEN`.
struct ContainerEndpoint: Equatable, Sendable {
    static let ecsAddress = "http://169.254.170.2"
    /// Plain-HTTP hosts the SDKs accept for a full URI: the ECS and EKS agents' addresses.
    static let plainHTTPHosts: Set<String> = ["169.254.170.2", "169.254.170.23", "[fd00:ec2::23]", "localhost", "[::1]"]

    var url: String
    var variable: String
    var authorization: SecretValue?

    /// The endpoint the environment names, or nil when it names none.
    static func configured(_ environment: [String: String], tokenFile: TokenFile?) throws(AgentError) -> ContainerEndpoint? {
        let authorization: SecretValue?
        if let tokenFile {
            authorization = .file(tokenFile)
        } else if let token = environment["AWS_CONTAINER_AUTHORIZATION_TOKEN"], !token.isEmpty {
            authorization = .literal(token)
        } else {
            authorization = nil
        }
        if let relative = environment["AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"], !relative.isEmpty {
            guard relative.hasPrefix("/") else {
                throw AgentError(.incompleteCredentials, "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI=\(relative) must start with /")
            }
            return ContainerEndpoint(url: ecsAddress + relative, variable: "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", authorization: authorization)
        }
        guard let full = environment["AWS_CONTAINER_CREDENTIALS_FULL_URI"], !full.isEmpty else { return nil }
        // AWSEndpoint.parse refuses user info ("http://127.0.0.1@elsewhere/"), which would fool a host check.
        guard let parsed = AWSEndpoint.parse(full) else {
            throw AgentError(.incompleteCredentials, "AWS_CONTAINER_CREDENTIALS_FULL_URI=\(full) is not an http:// or https:// URL")
        }
        guard parsed.url.hasPrefix("https://") || isLocal(host(ofAuthority: parsed.hostHeader)) else {
            throw AgentError(
                .incompleteCredentials,
                "AWS_CONTAINER_CREDENTIALS_FULL_URI=\(full): plain http is allowed only to a loopback address or the ECS/EKS "
                    + "agent (169.254.170.2, 169.254.170.23, fd00:ec2::23)")
        }
        return ContainerEndpoint(url: full, variable: "AWS_CONTAINER_CREDENTIALS_FULL_URI", authorization: authorization)
    }

    func fetch() throws(AgentError) -> BaseCredentials {
        var headers: [(name: String, value: String)] = [("Accept", "application/json")]
        if let authorization {
            let token = try authorization.value(purpose: "container authorization token")
            guard !token.contains("\r"), !token.contains("\n") else {
                throw AgentError(.incompleteCredentials, "the container authorization token contains a line break")
            }
            headers.append(("Authorization", token))
        }
        let body = try CredentialsJSON.body(of: HTTPRequest(method: "GET", url: url, headers: headers), what: "\(variable)=\(url)")
        return try CredentialsJSON.credentials(from: body, source: "container endpoint \(url)")
    }

    private static func host(ofAuthority authority: String) -> String {
        if authority.hasPrefix("[") {
            return String(authority.prefix { $0 != "]" }) + "]"
        }
        return String(authority.prefix { $0 != ":" })
    }

    /// The named agent addresses, or an IPv4 literal in 127.0.0.0/8 ("127.example.com" is a name).
    private static func isLocal(_ host: String) -> Bool {
        if plainHTTPHosts.contains(host) { return true }
        var address = in_addr()
        return inet_pton(AF_INET, host, &address) == 1 && host.hasPrefix("127.")
    }
}

/// EC2's instance metadata service, IMDSv2: PUT for a session token, then the role's name and its
/// keys; also the instance's region when nothing else names one. `AWS_EC2_METADATA_DISABLED=true`
/// turns it off; `AWS_EC2_METADATA_SERVICE_ENDPOINT` moves it.
struct InstanceMetadata: Equatable, Sendable {
    static let defaultEndpoint = "http://169.254.169.254"
    static let tokenTTLSeconds = 21600

    var endpoint: String

    /// The service to ask, or nil when the environment turns it off.
    static func configured(_ environment: [String: String]) throws(AgentError) -> InstanceMetadata? {
        if environment["AWS_EC2_METADATA_DISABLED"]?.lowercased() == "true" { return nil }
        guard let endpoint = environment["AWS_EC2_METADATA_SERVICE_ENDPOINT"], !endpoint.isEmpty else {
            return InstanceMetadata(endpoint: defaultEndpoint)
        }
        guard endpoint.hasPrefix("http://") || endpoint.hasPrefix("https://") else {
            throw AgentError(.incompleteCredentials, "AWS_EC2_METADATA_SERVICE_ENDPOINT=\(endpoint) is not an http:// URL")
        }
        return InstanceMetadata(endpoint: endpoint.hasSuffix("/") ? String(endpoint.dropLast()) : endpoint)
    }

    func fetch() throws(AgentError) -> BaseCredentials {
        let token = try sessionToken()
        let roles = try get("/latest/meta-data/iam/security-credentials/", token: token, what: "the instance's role")
        guard let role = String(decoding: roles, as: UTF8.self).split(whereSeparator: \.isNewline).first.map(String.init),
            !role.isEmpty, !role.contains("/")
        else {
            throw AgentError(.noCredentials, "the EC2 instance metadata service at \(endpoint) names no IAM role for this instance")
        }
        let body = try get("/latest/meta-data/iam/security-credentials/\(role)", token: token, what: "the keys of role \(role)")
        return try CredentialsJSON.credentials(from: body, source: "EC2 instance role \(role)")
    }

    func region() throws(AgentError) -> String {
        let body = try get("/latest/meta-data/placement/region", token: try sessionToken(), what: "the instance's region")
        return String(decoding: body, as: UTF8.self).trimmingSpacesAndNewlines()
    }

    private func sessionToken() throws(AgentError) -> String {
        let request = HTTPRequest(
            method: "PUT", url: "\(endpoint)/latest/api/token",
            headers: [("X-aws-ec2-metadata-token-ttl-seconds", "\(Self.tokenTTLSeconds)")])
        // The last step of the chain: when it fails, say what was tried before it.
        let what = "no AWS credentials in the environment, the shared files or a container endpoint, and the EC2 instance "
            + "metadata service at \(endpoint) (AWS_EC2_METADATA_DISABLED=true turns it off)"
        let token = String(decoding: try CredentialsJSON.body(of: request, what: what), as: UTF8.self)
        guard !token.isEmpty, !token.contains("\n"), !token.contains("\r") else {
            throw AgentError(.noCredentials, "the EC2 instance metadata service at \(endpoint) gave no usable session token")
        }
        return token
    }

    private func get(_ path: String, token: String, what: String) throws(AgentError) -> [UInt8] {
        let request = HTTPRequest(method: "GET", url: endpoint + path, headers: [("X-aws-ec2-metadata-token", token)])
        return try CredentialsJSON.body(of: request, what: "\(what) from the EC2 instance metadata service at \(endpoint)")
    }
}

extension CredentialsJSON {
    /// The body of a metadata service's answer: only a 200 carries credentials.
    static func body(of request: HTTPRequest, what: String) throws(AgentError) -> [UInt8] {
        let response: HTTPResponse
        do {
            response = try HTTPClient.metadata.perform(request)
        } catch {
            throw AgentError(.noCredentials, "\(what) did not answer: \(error.detail)")
        }
        guard response.status == 200 else {
            throw AgentError(.noCredentials, "\(what) refused with HTTP \(response.status)")
        }
        return response.body
    }
}
