// Vault's HTTP API as far as the agent needs it (SES-FACTS §10): log in, renew the token, read the
// secret at --vault-path, renew its lease. Blocking; called from the agent's thread pool.
import FoundationEssentials
import HTTPTransport
import Shared

/// A Vault token and how long it lives. `ttl` 0 means it does not expire (a root token).
struct VaultToken: Sendable {
    var value: String
    var ttl: Int64
    var renewable: Bool
    var obtained: Int64
}

/// AWS keys read from Vault, with the lease that keeps them alive (none for KV).
struct VaultSecret: Sendable {
    var accessKeyID: String
    var secretAccessKey: String
    var sessionToken: String?
    var leaseID: String
    var leaseDuration: Int64
    var renewable: Bool
    var obtained: Int64

    /// When AWS stops accepting them: the lease's end for a dynamic secret (Vault revokes the IAM user
    /// or the STS credentials then). KV keys live as long as whoever stored them decides.
    var expiration: Int64? { leaseID.isEmpty ? nil : obtained + leaseDuration }

    func credentials(source: String) -> BaseCredentials {
        BaseCredentials(
            accessKeyID: accessKeyID, secretAccessKey: secretAccessKey, sessionToken: sessionToken, expiration: expiration,
            source: source)
    }
}

struct VaultClient: Sendable {
    let http: HTTPClient
    let settings: VaultSettings

    func logIn(now: Int64) throws(AgentError) -> VaultToken {
        let path: String
        let body: [String: String]
        switch settings.login {
        case .token(let token):
            let answer = try request("GET", "auth/token/lookup-self", token: token, what: "VAULT_TOKEN lookup")
            guard let data = answer.data else { throw AgentError(.vault, "VAULT_TOKEN lookup: Vault answered without data") }
            return VaultToken(value: token, ttl: data.integers["ttl"] ?? 0, renewable: data.booleans["renewable"] ?? false, obtained: now)
        case .appRole(let roleID, let secretID):
            path = "auth/approle/login"
            body = ["role_id": roleID, "secret_id": try secretID.value(purpose: "Vault AppRole secret id")]
        case .jwt(let role, let jwt):
            path = "auth/jwt/login"
            body = ["role": role, "jwt": try jwt.value(purpose: "Vault JWT")]
        }
        let answer = try request("POST", path, token: nil, body: body, what: "Vault login with \(settings.login)")
        return try token(from: answer, now: now, what: "Vault login with \(settings.login)")
    }

    /// Asks for `increment` more seconds; Vault grants less near the token's max TTL.
    func renew(_ token: VaultToken, increment: Int64, now: Int64) throws(AgentError) -> VaultToken {
        let answer = try request(
            "POST", "auth/token/renew-self", token: token.value, body: ["increment": "\(increment)s"], what: "Vault token renewal")
        return try self.token(from: answer, now: now, what: "Vault token renewal")
    }

    func readSecret(token: VaultToken, now: Int64) throws(AgentError) -> VaultSecret {
        let what = "--vault-path \(settings.secretPath)"
        let answer = try request("GET", settings.secretPath, token: token.value, what: what)
        guard let data = answer.data else { throw AgentError(.vault, "\(what): the secret has no data") }
        // KV v2 nests the stored keys under data.data; KV v1 and the AWS engine put them in data.
        let fields = data.nested?.strings ?? data.strings
        guard let keyID = fields["access_key"] ?? fields["aws_access_key_id"], !keyID.isEmpty else {
            throw AgentError(.vault, "\(what): the secret has no access_key")
        }
        guard let secret = fields["secret_key"] ?? fields["aws_secret_access_key"], !secret.isEmpty else {
            throw AgentError(.vault, "\(what): the secret has no secret_key")
        }
        let sessionToken = fields["session_token"] ?? fields["security_token"]
        return VaultSecret(
            accessKeyID: keyID, secretAccessKey: secret, sessionToken: sessionToken?.isEmpty == false ? sessionToken : nil,
            leaseID: answer.leaseID ?? "", leaseDuration: answer.leaseDuration ?? 0, renewable: answer.renewable ?? false,
            obtained: now)
    }

    /// Extends the secret's lease; the answer says how long it now lives, which may be less than asked.
    func renew(_ secret: VaultSecret, increment: Int64, token: VaultToken, now: Int64) throws(AgentError) -> VaultSecret {
        let answer = try request(
            "PUT", "sys/leases/renew", token: token.value, body: ["lease_id": secret.leaseID, "increment": "\(increment)"],
            what: "Vault lease renewal")
        var renewed = secret
        renewed.leaseDuration = answer.leaseDuration ?? 0
        renewed.renewable = answer.renewable ?? false
        renewed.obtained = now
        return renewed
    }

    private func token(from answer: VaultAnswer, now: Int64, what: String) throws(AgentError) -> VaultToken {
        guard let auth = answer.auth, !auth.clientToken.isEmpty else { throw AgentError(.vault, "\(what): Vault answered without a token") }
        return VaultToken(value: auth.clientToken, ttl: auth.leaseDuration ?? 0, renewable: auth.renewable ?? false, obtained: now)
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
            response = try http.perform(HTTPRequest(method: method, url: url, headers: headers, body: bytes))
        } catch {
            throw AgentError(.vault, "\(what): VAULT_ADDR=\(settings.address) did not answer: \(error.detail)")
        }
        let answer = try? JSONDecoder().decode(VaultAnswer.self, from: Data(response.body))
        guard (200..<300).contains(response.status) else {
            let reasons = answer?.errors?.joined(separator: "; ") ?? ""
            let hint = response.status == 404 ? " (no secret at that path)" : ""
            throw AgentError(.vault, "\(what): Vault refused with HTTP \(response.status)\(hint)\(reasons.isEmpty ? "" : ": \(reasons)")")
        }
        guard let answer else { throw AgentError(.vault, "\(what): Vault's answer is not the JSON expected") }
        return answer
    }
}

/// The envelope of every Vault answer; only the fields the agent reads.
struct VaultAnswer: Decodable {
    struct Auth: Decodable {
        var clientToken: String
        var leaseDuration: Int64?
        var renewable: Bool?

        enum CodingKeys: String, CodingKey {
            case clientToken = "client_token"
            case leaseDuration = "lease_duration"
            case renewable
        }
    }

    var leaseID: String?
    var leaseDuration: Int64?
    var renewable: Bool?
    var data: VaultData?
    var auth: Auth?
    var errors: [String]?

    enum CodingKeys: String, CodingKey {
        case leaseID = "lease_id"
        case leaseDuration = "lease_duration"
        case renewable, data, auth, errors
    }
}

/// A `data` object of any shape: its string, integer and boolean members, and a nested `data`
/// object (KV v2). Other members (lists, nulls, metadata) are ignored.
struct VaultData: Decodable {
    var strings: [String: String] = [:]
    var integers: [String: Int64] = [:]
    var booleans: [String: Bool] = [:]
    var nested: NestedData?

    struct NestedData: Decodable {
        var strings: [String: String] = [:]

        init(from decoder: Decoder) throws {
            strings = try VaultData(from: decoder).strings
        }
    }

    struct Key: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    init(from decoder: Decoder) throws {
        let container = try decoder.container(keyedBy: Key.self)
        for key in container.allKeys {
            if let text = try? container.decode(String.self, forKey: key) {
                strings[key.stringValue] = text
            } else if let flag = try? container.decode(Bool.self, forKey: key) {
                booleans[key.stringValue] = flag
            } else if let number = try? container.decode(Int64.self, forKey: key) {
                integers[key.stringValue] = number
            } else if key.stringValue == "data" {
                nested = try? container.decode(NestedData.self, forKey: key)
            }
        }
    }
}
