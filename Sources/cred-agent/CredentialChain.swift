// The AWS credential chain as the SDKs walk it, as far as this agent implements it: environment
// variables, web identity (EKS IRSA), then the shared credentials and config files for the selected
// profile (static keys, role_arn over a source_profile or a web identity token). Resolving names
// where credentials come from; `CredentialSource.fetch` obtains them. Runs in the credential agent,
// which alone sees secrets.
import CredentialDocuments

/// Inputs of the chain: the agent's environment and the shared files, with the paths they were read
/// from (for messages).
struct CredentialSources {
    var environment: [String: String]
    var credentialsFile: SharedConfigFile
    var credentialsPath: String
    var configFile: SharedConfigFile
    var configPath: String
    /// AWS_WEB_IDENTITY_TOKEN_FILE as the supervisor opened it.
    var webIdentityTokenFile: TokenFile? = nil
    /// AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE as the supervisor opened it.
    var containerTokenFile: TokenFile? = nil

    var profileName: String {
        if let profile = environment["AWS_PROFILE"], !profile.isEmpty { return profile }
        return "default"
    }

    var explicitProfile: Bool { !(environment["AWS_PROFILE"] ?? "").isEmpty }

    /// AWS_ROLE_SESSION_NAME, else a name of our own (RoleSessionName: 2–64 of `[\w+=,.@-]`).
    var roleSessionName: String {
        if let name = environment["AWS_ROLE_SESSION_NAME"], !name.isEmpty { return name }
        return "ses-smtpd-proxy"
    }
}

/// How the agent obtains credentials, as the chain resolved it; fetched anew at every refresh.
indirect enum CredentialSource: Equatable, Sendable, CustomStringConvertible {
    /// Keys that do not change while the agent runs (environment, a profile's static keys).
    case fixed(BaseCredentials)
    /// STS AssumeRoleWithWebIdentity with the token in `tokenFile`, read anew each time (kubelet rotates it).
    case webIdentity(roleArn: String, sessionName: String, tokenFile: TokenFile)
    /// STS AssumeRole signed with what `base` gives.
    case assumeRole(roleArn: String, sessionName: String, externalID: String?, base: CredentialSource)
    /// The secret at --vault-path, read with a Vault login that the session keeps alive.
    case vault(VaultSession)
    /// A profile's credential_process, run again at every refresh.
    case process(CredentialProcess)
    /// The ECS / EKS Pod Identity credential endpoint.
    case container(ContainerEndpoint)
    /// EC2's instance role through IMDSv2.
    case instanceMetadata(InstanceMetadata)

    var description: String {
        switch self {
        case .fixed(let base): base.source
        case .webIdentity(let role, _, let file): "web identity \(role) (token \(file.path))"
        case .assumeRole(let role, _, _, let base): "role \(role) assumed with \(base)"
        case .vault(let session): "\(session)"
        case .process(let process): process.origin
        case .container(let endpoint): "container endpoint \(endpoint.url) (\(endpoint.variable))"
        case .instanceMetadata(let service): "EC2 instance role from \(service.endpoint)"
        }
    }
}

enum CredentialChain {
    /// source_profile chains longer than this are a loop or a mistake.
    static let maxProfileDepth = 5

    static func resolve(_ sources: CredentialSources) throws(AgentError) -> CredentialSource {
        if let fromEnvironment = try environmentCredentials(sources.environment) {
            return .fixed(fromEnvironment)
        }
        if let path = nonEmpty(sources.environment["AWS_WEB_IDENTITY_TOKEN_FILE"]) {
            guard let role = nonEmpty(sources.environment["AWS_ROLE_ARN"]) else {
                throw AgentError(.incompleteCredentials, "AWS_WEB_IDENTITY_TOKEN_FILE is set but AWS_ROLE_ARN is not")
            }
            let tokenFile = sources.webIdentityTokenFile ?? TokenFile(path: path, descriptor: nil)
            return .webIdentity(roleArn: role, sessionName: sources.roleSessionName, tokenFile: tokenFile)
        }
        let profile = sources.profileName
        if sources.credentialsFile.credentialsProfile(profile) != nil || sources.configFile.configProfile(profile) != nil {
            return try profileSource(profile, sources, depth: 0)
        }
        guard !sources.explicitProfile else {
            throw AgentError(
                .profileNotFound,
                "AWS_PROFILE=\(profile): no such profile in \(sources.credentialsPath) or \(sources.configPath)")
        }
        if let endpoint = try ContainerEndpoint.configured(sources.environment, tokenFile: sources.containerTokenFile) {
            return .container(endpoint)
        }
        if let service = try InstanceMetadata.configured(sources.environment) {
            return .instanceMetadata(service)
        }
        throw AgentError(
            .noCredentials,
            "no AWS credentials found: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, AWS_WEB_IDENTITY_TOKEN_FILE with "
                + "AWS_ROLE_ARN, AWS_PROFILE with keys in \(sources.credentialsPath), or a container credential endpoint "
                + "(the EC2 instance metadata service is off: AWS_EC2_METADATA_DISABLED=true)")
    }

    /// A profile's own keys, or its role over a source profile or a web identity token.
    private static func profileSource(_ profile: String, _ sources: CredentialSources, depth: Int) throws(AgentError) -> CredentialSource {
        guard depth < maxProfileDepth else {
            throw AgentError(.unsupported, "profile \(profile): source_profile chain deeper than \(maxProfileDepth) (a loop?)")
        }
        var settings = sources.configFile.configProfile(profile) ?? [:]
        settings.merge(sources.credentialsFile.credentialsProfile(profile) ?? [:]) { _, fromCredentials in fromCredentials }
        let origin = "profile \(profile) in \(sources.credentialsPath) or \(sources.configPath)"
        if let role = nonEmpty(settings["role_arn"]) {
            let sessionName = nonEmpty(settings["role_session_name"]) ?? sources.roleSessionName
            if let tokenFile = nonEmpty(settings["web_identity_token_file"]) {
                return .webIdentity(roleArn: role, sessionName: sessionName, tokenFile: TokenFile(path: tokenFile, descriptor: nil))
            }
            let base: CredentialSource
            if let source = nonEmpty(settings["source_profile"]) {
                // A profile that names itself uses its own static keys as the base (the SDKs allow it).
                if source == profile, let own = try staticKeys(settings, source: origin) {
                    base = .fixed(own)
                } else {
                    base = try profileSource(source, sources, depth: depth + 1)
                }
            } else if settings["credential_source"] == "Environment", let own = try environmentCredentials(sources.environment) {
                base = .fixed(own)
            } else {
                throw AgentError(
                    .unsupported,
                    "\(origin): role_arn needs source_profile (or credential_source = Environment, or web_identity_token_file)")
            }
            return .assumeRole(roleArn: role, sessionName: sessionName, externalID: nonEmpty(settings["external_id"]), base: base)
        }
        if let found = try staticKeys(settings, source: origin) { return .fixed(found) }
        if let command = nonEmpty(settings["credential_process"]) {
            return .process(try CredentialProcess(command: command, origin: "credential_process of \(origin)"))
        }
        for key in ["sso_session", "sso_start_url", "credential_source"] where settings[key] != nil {
            throw AgentError(
                .unsupported,
                "\(origin) uses \(key), which this version cannot use yet; use static keys, role_arn with "
                    + "source_profile, credential_process, or web identity")
        }
        throw AgentError(.incompleteCredentials, "\(origin) has no aws_access_key_id/aws_secret_access_key and no role_arn")
    }

    private static func nonEmpty(_ value: String?) -> String? {
        guard let value, !value.isEmpty else { return nil }
        return value
    }

    static func region(_ sources: CredentialSources) throws(AgentError) -> String {
        for name in ["AWS_REGION", "AWS_DEFAULT_REGION"] {
            if let value = sources.environment[name], !value.isEmpty { return try validRegion(value, from: name) }
        }
        if let value = sources.configFile.configProfile(sources.profileName)?["region"], !value.isEmpty {
            return try validRegion(value, from: "region in profile \(sources.profileName) of \(sources.configPath)")
        }
        if let service = try InstanceMetadata.configured(sources.environment), let value = try? service.region() {
            return try validRegion(value, from: "the region of the EC2 instance metadata service at \(service.endpoint)")
        }
        throw AgentError(
            .noRegion,
            "no AWS region configured: set AWS_REGION (or AWS_DEFAULT_REGION, or region in \(sources.configPath))"
        )
    }

    private static func validRegion(_ value: String, from origin: String) throws(AgentError) -> String {
        let allowed = value.utf8.allSatisfy {
            ($0 >= UInt8(ascii: "a") && $0 <= UInt8(ascii: "z")) || ($0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9"))
                || $0 == UInt8(ascii: "-")
        }
        guard allowed, value.utf8.count <= 32 else {
            throw AgentError(.noRegion, "\(origin)=\(value) is not a region name (like us-east-1)")
        }
        return value
    }

    private static func environmentCredentials(_ environment: [String: String]) throws(AgentError) -> BaseCredentials? {
        let keyID = environment["AWS_ACCESS_KEY_ID"] ?? ""
        let secret = environment["AWS_SECRET_ACCESS_KEY"] ?? ""
        switch (keyID.isEmpty, secret.isEmpty) {
        case (true, true):
            return nil
        case (false, true):
            throw AgentError(.incompleteCredentials, "AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is not")
        case (true, false):
            throw AgentError(.incompleteCredentials, "AWS_SECRET_ACCESS_KEY is set but AWS_ACCESS_KEY_ID is not")
        case (false, false):
            let token = environment["AWS_SESSION_TOKEN"] ?? environment["AWS_SECURITY_TOKEN"] ?? ""
            return BaseCredentials(
                accessKeyID: keyID,
                secretAccessKey: secret,
                sessionToken: token.isEmpty ? nil : token,
                expiration: nil,
                source: "environment"
            )
        }
    }

    private static func staticKeys(_ section: [String: String], source: String) throws(AgentError) -> BaseCredentials? {
        let keyID = section["aws_access_key_id"] ?? ""
        let secret = section["aws_secret_access_key"] ?? ""
        if keyID.isEmpty && secret.isEmpty { return nil }
        guard !keyID.isEmpty, !secret.isEmpty else {
            throw AgentError(.incompleteCredentials, "\(source) has only one of aws_access_key_id and aws_secret_access_key")
        }
        let token = section["aws_session_token"] ?? ""
        return BaseCredentials(
            accessKeyID: keyID,
            secretAccessKey: secret,
            sessionToken: token.isEmpty ? nil : token,
            expiration: nil,
            source: source
        )
    }
}
