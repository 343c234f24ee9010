// Vault's HTTP API as far as the agent needs it (SES-FACTS §10): log in, renew the token, read the
// secret at --vault-path, renew its lease. Blocking; called from the agent's thread pool.
import CredentialDocuments
import FoundationEssentials
import HTTPTransport
import Shared

struct VaultClient: Sendable {
    let http: HTTPClient
    let settings: VaultSettings

    func logIn(now: Int64) throws(AgentError) -> VaultToken {
        let path: String
        let body: [String: String]
        switch settings.login {
        case .token(let token):
            let answer = try request("GET", "auth/token/lookup-self", token: token, what: "VAULT_TOKEN lookup")
            return try VaultToken.lookedUp(token, answer: answer, now: now, what: "VAULT_TOKEN lookup")
        case .appRole(let roleID, let secretID):
            path = "auth/approle/login"
            body = ["role_id": roleID, "secret_id": try secretID.value(purpose: "Vault AppRole secret id")]
        case .jwt(let role, let jwt):
            path = "auth/jwt/login"
            body = ["role": role, "jwt": try jwt.value(purpose: "Vault JWT")]
        }
        let what = "Vault login with \(settings.login)"
        return try VaultToken.issued(by: try request("POST", path, token: nil, body: body, what: what), now: now, what: what)
    }

    /// Asks for `increment` more seconds; Vault grants less near the token's max TTL.
    func renew(_ token: VaultToken, increment: Int64, now: Int64) throws(AgentError) -> VaultToken {
        let what = "Vault token renewal"
        let answer = try request("POST", "auth/token/renew-self", token: token.value, body: ["increment": "\(increment)s"], what: what)
        return try VaultToken.issued(by: answer, now: now, what: what)
    }

    func readSecret(token: VaultToken, now: Int64) throws(AgentError) -> VaultSecret {
        let what = "--vault-path \(settings.secretPath)"
        let answer = try request("GET", settings.secretPath, token: token.value, what: what)
        return try VaultSecret.read(from: answer, now: now, what: what)
    }

    /// Extends the secret's lease; the answer says how long it now lives, which may be less than asked.
    func renew(_ secret: VaultSecret, increment: Int64, token: VaultToken, now: Int64) throws(AgentError) -> VaultSecret {
        let what = "Vault lease renewal"
        let answer = try request(
            "PUT", "sys/leases/renew", token: token.value, body: ["lease_id": secret.leaseID, "increment": "\(increment)"], what: what)
        return try secret.renewed(by: answer, now: now, what: what)
    }

    private func request(
        _ method: String, _ path: String, token: String?, body: [String: String]? = nil, what: String
    ) throws(AgentError) -> VaultAnswer {
        var headers: [(name: String, value: String)] = [("Accept", "application/json")]
        if let token { headers.append(("X-Vault-Token", token)) }
        if let namespace = settings.namespace { headers.append(("X-Vault-Namespace", namespace)) }
        var bytes: [UInt8] = []
        if let body {
            headers.append(("Content-Type", "application/json"))
            do {
                bytes = Array(try JSONEncoder().encode(body))
            } catch {
                throw AgentError(.vault, "\(what): cannot encode the request: \(error)")
            }
        }
        let url = "\(settings.address)/v1/\(path)"
        let response: HTTPResponse
        do {
            response = try http.perform(HTTPRequest(method: method, url: url, headers: headers, body: .bytes(bytes)))
        } catch {
            throw AgentError(.vault, "\(what): VAULT_ADDR=\(settings.address) did not answer: \(error.detail)")
        }
        let answer = VaultAnswer.decode(response.body)
        guard (200..<300).contains(response.status) else {
            let reasons = answer?.errors?.joined(separator: "; ") ?? ""
            let hint = response.status == 404 ? " (no secret at that path)" : ""
            throw AgentError(.vault, "\(what): Vault refused with HTTP \(response.status)\(hint)\(reasons.isEmpty ? "" : ": \(reasons)")")
        }
        guard let answer else { throw AgentError(.vault, "\(what): Vault's answer is not the JSON expected") }
        return answer
    }
}
