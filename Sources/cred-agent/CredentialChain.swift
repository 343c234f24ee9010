// The AWS credential chain as the SDKs walk it, as far as this agent implements it: environment
// variables, then the shared credentials and config files for the selected profile. Runs in the
// credential agent, which alone sees secrets.

/// Long-lived or session credentials as found, before any signing key is derived.
struct BaseCredentials: Equatable, CustomStringConvertible {
    var accessKeyID: String
    var secretAccessKey: String
    var sessionToken: String?
    var expiration: Int64?
    /// Where they came from, for logs: "environment", "profile default in /root/.aws/credentials".
    var source: String

    var description: String { "BaseCredentials(source: \(source), accessKeyID: <redacted>)" }
}

/// The agent's one error type: a startup or refresh failure whose message names what to fix.
struct AgentError: Error, CustomStringConvertible {
    enum Code: Equatable {
        case noCredentials
        case incompleteCredentials
        case noRegion
        case profileNotFound
        case unsupported
        case io
    }

    var code: Code
    var detail: String

    init(_ code: Code, _ detail: String) {
        self.code = code
        self.detail = detail
    }

    var description: String { detail }
}

/// Inputs of the chain: the agent's environment and the shared files, with the paths they were read
/// from (for messages).
struct CredentialSources {
    var environment: [String: String]
    var credentialsFile: SharedConfigFile
    var credentialsPath: String
    var configFile: SharedConfigFile
    var configPath: String

    var profileName: String {
        if let profile = environment["AWS_PROFILE"], !profile.isEmpty { return profile }
        return "default"
    }

    var explicitProfile: Bool { !(environment["AWS_PROFILE"] ?? "").isEmpty }
}

enum CredentialChain {
    static func resolve(_ sources: CredentialSources) throws(AgentError) -> BaseCredentials {
        if let fromEnvironment = try environmentCredentials(sources.environment) {
            return fromEnvironment
        }
        let profile = sources.profileName
        let credentialsSection = sources.credentialsFile.credentialsProfile(profile)
        let configSection = sources.configFile.configProfile(profile)
        if credentialsSection == nil && configSection == nil && sources.explicitProfile {
            throw AgentError(
                .profileNotFound,
                "AWS_PROFILE=\(profile): no such profile in \(sources.credentialsPath) or \(sources.configPath)"
            )
        }
        for (section, path) in [(credentialsSection, sources.credentialsPath), (configSection, sources.configPath)] {
            guard let section else { continue }
            if let found = try staticKeys(section, source: "profile \(profile) in \(path)") { return found }
            for key in ["role_arn", "credential_process", "web_identity_token_file", "sso_session", "sso_start_url"]
            where section[key] != nil {
                throw AgentError(
                    .unsupported,
                    "profile \(profile) in \(path) uses \(key), which this version cannot use yet; "
                        + "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY or use static keys in the profile"
                )
            }
        }
        throw AgentError(
            .noCredentials,
            "no AWS credentials found: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE with "
                + "keys in \(sources.credentialsPath)"
        )
    }

    static func region(_ sources: CredentialSources) throws(AgentError) -> String {
        for name in ["AWS_REGION", "AWS_DEFAULT_REGION"] {
            if let value = sources.environment[name], !value.isEmpty { return try validRegion(value, from: name) }
        }
        if let value = sources.configFile.configProfile(sources.profileName)?["region"], !value.isEmpty {
            return try validRegion(value, from: "region in profile \(sources.profileName) of \(sources.configPath)")
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
