import CredentialDocuments
import Shared

#if canImport(Glibc)
import Glibc
#endif

/// How the agent reaches Vault and proves who it is, read from the same variables as the Vault CLI
/// (`VAULT_ADDR`, `VAULT_TOKEN`, `VAULT_NAMESPACE`, `VAULT_CACERT`, `VAULT_SKIP_VERIFY`) plus AppRole
/// and JWT logins. Every error names the variable to fix.
struct VaultSettings: Sendable {
    enum Login: Equatable, Sendable, CustomStringConvertible {
        /// VAULT_TOKEN: renewed while it is renewable; cannot be replaced when it runs out.
        case token(String)
        case appRole(roleID: String, secretID: SecretValue)
        case jwt(role: String, jwt: SecretValue)

        var canLogInAgain: Bool {
            if case .token = self { return false }
            return true
        }

        var description: String {
            switch self {
            case .token: "VAULT_TOKEN"
            case .appRole: "AppRole (VAULT_APPROLE_ROLE_ID)"
            case .jwt(let role, _): "JWT role \(role) (VAULT_JWT_ROLE)"
            }
        }
    }

    var address: String
    var namespace: String?
    var caCertificate: String?
    var skipVerify: Bool
    var login: Login
    /// The secret to read, relative to /v1/ (`aws/creds/mail`, `secret/data/ses`).
    var secretPath: String

    init(environment: [String: String], secretPath: String, secretIDFile: TokenFile?, jwtFile: TokenFile?) throws(AgentError) {
        func value(_ name: String) -> String? { environment[name].flatMap { $0.isEmpty ? nil : $0 } }
        guard let address = value("VAULT_ADDR") else {
            throw AgentError(.vault, "--enable-vault: VAULT_ADDR is not set (like https://vault.example.com:8200)")
        }
        guard address.hasPrefix("https://") || address.hasPrefix("http://") else {
            throw AgentError(.vault, "VAULT_ADDR=\(address) is not an http:// or https:// URL")
        }
        self.address = address.hasSuffix("/") ? String(address.dropLast()) : address
        namespace = value("VAULT_NAMESPACE")
        caCertificate = value("VAULT_CACERT")
        if let caCertificate, access(caCertificate, R_OK) != 0 {
            throw AgentError(.vault, "VAULT_CACERT=\(caCertificate): cannot read: \(String(cString: strerror(errno)))")
        }
        switch value("VAULT_SKIP_VERIFY")?.lowercased() {
        case nil, "0", "false": skipVerify = false
        case "1", "true": skipVerify = true
        case let other?: throw AgentError(.vault, "VAULT_SKIP_VERIFY=\(other): use true or false")
        }
        self.secretPath = secretPath

        if let roleID = value("VAULT_APPROLE_ROLE_ID") {
            if let secretID = value("VAULT_APPROLE_SECRET_ID") {
                login = .appRole(roleID: roleID, secretID: .literal(secretID))
            } else if let secretIDFile {
                login = .appRole(roleID: roleID, secretID: .file(secretIDFile))
            } else {
                throw AgentError(
                    .vault,
                    "VAULT_APPROLE_ROLE_ID is set but no secret id: set VAULT_APPROLE_SECRET_ID, VAULT_APPROLE_SECRET_ID_FILE, "
                        + "or LoadCredential=vault-approle-secret-id")
            }
        } else if let role = value("VAULT_JWT_ROLE") {
            if let jwt = value("VAULT_JWT") {
                login = .jwt(role: role, jwt: .literal(jwt))
            } else if let jwtFile {
                login = .jwt(role: role, jwt: .file(jwtFile))
            } else {
                throw AgentError(.vault, "VAULT_JWT_ROLE is set but neither VAULT_JWT nor VAULT_JWT_FILE is")
            }
        } else if let token = value("VAULT_TOKEN") {
            login = .token(token)
        } else {
            throw AgentError(
                .vault,
                "--enable-vault: no Vault login: set VAULT_TOKEN, VAULT_APPROLE_ROLE_ID with VAULT_APPROLE_SECRET_ID(_FILE), "
                    + "or VAULT_JWT_ROLE with VAULT_JWT(_FILE)")
        }
    }
}
