/// What each child may see of the supervisor's environment: allow-lists, so that a variable added to
/// the unit file later does not leak by default. The worker never gets VAULT_* or AWS secrets.
enum ChildEnvironment {
    static let worker: Set<String> = [
        "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_SES", "AWS_ENDPOINT_URL_SESV2", "AWS_CA_BUNDLE", "TZ",
    ]

    static let agent: Set<String> = [
        "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN",
        "AWS_PROFILE", "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_CA_BUNDLE",
        "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_STS", "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_ROLE_ARN",
        "AWS_ROLE_SESSION_NAME", "TZ",
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_CONTAINER_AUTHORIZATION_TOKEN",
        "AWS_EC2_METADATA_DISABLED", "AWS_EC2_METADATA_SERVICE_ENDPOINT",
        // As the Vault CLI reads them; the secret-id and JWT files arrive as descriptors (SharedFiles).
        "VAULT_ADDR", "VAULT_TOKEN", "VAULT_NAMESPACE", "VAULT_CACERT", "VAULT_SKIP_VERIFY",
        "VAULT_APPROLE_ROLE_ID", "VAULT_APPROLE_SECRET_ID", "VAULT_JWT", "VAULT_JWT_ROLE",
    ]

    static func filter(_ environment: [String: String], allowed: Set<String>) -> [String] {
        environment.filter { allowed.contains($0.key) }.map { "\($0.key)=\($0.value)" }.sorted()
    }
}
