// Vault's answers (SES-FACTS §10) and what the agent takes from them: a login token and its TTL, AWS
// keys and their lease. Vault is a peer on the network: every field is checked before it is used,
// and a duration is refused unless it fits the arithmetic that schedules renewals.
import FoundationEssentials

/// A Vault token and how long it lives. `ttl` 0 means it does not expire (a root token).
public struct VaultToken: Sendable {
    public var value: String
    public var ttl: Int64
    public var renewable: Bool
    public var obtained: Int64

    public init(value: String, ttl: Int64, renewable: Bool, obtained: Int64) {
        self.value = value
        self.ttl = ttl
        self.renewable = renewable
        self.obtained = obtained
    }
}

/// AWS keys read from Vault, with the lease that keeps them alive (none for KV).
public struct VaultSecret: Sendable {
    public var accessKeyID: String
    public var secretAccessKey: String
    public var sessionToken: String?
    public var leaseID: String
    public var leaseDuration: Int64
    public var renewable: Bool
    public var obtained: Int64

    public init(
        accessKeyID: String, secretAccessKey: String, sessionToken: String?, leaseID: String, leaseDuration: Int64,
        renewable: Bool, obtained: Int64
    ) {
        self.accessKeyID = accessKeyID
        self.secretAccessKey = secretAccessKey
        self.sessionToken = sessionToken
        self.leaseID = leaseID
        self.leaseDuration = leaseDuration
        self.renewable = renewable
        self.obtained = obtained
    }

    /// When AWS stops accepting them: the lease's end for a dynamic secret (Vault revokes the IAM user
    /// or the STS credentials then). KV keys live as long as whoever stored them decides.
    public var expiration: Int64? { leaseID.isEmpty ? nil : obtained + leaseDuration }

    public func credentials(source: String) -> BaseCredentials {
        BaseCredentials(
            accessKeyID: accessKeyID, secretAccessKey: secretAccessKey, sessionToken: sessionToken, expiration: expiration,
            source: source)
    }
}

/// The envelope of every Vault answer; only the fields the agent reads.
public struct VaultAnswer: Decodable, Sendable {
    public struct Auth: Decodable, Sendable {
        public var clientToken: String
        public var leaseDuration: Int64?
        public var renewable: Bool?

        enum CodingKeys: String, CodingKey {
            case clientToken = "client_token"
            case leaseDuration = "lease_duration"
            case renewable
        }
    }

    public var leaseID: String?
    public var leaseDuration: Int64?
    public var renewable: Bool?
    public var data: VaultData?
    public var auth: Auth?
    public var errors: [String]?

    enum CodingKeys: String, CodingKey {
        case leaseID = "lease_id"
        case leaseDuration = "lease_duration"
        case renewable, data, auth, errors
    }

    /// nil when the body is not a JSON object of this shape.
    public static func decode(_ body: [UInt8]) -> VaultAnswer? {
        try? JSONDecoder().decode(VaultAnswer.self, from: Data(body))
    }
}

/// A `data` object of any shape: its string, integer and boolean members, and the string members of
/// a nested `data` object (KV v2). Other members (lists, nulls, metadata, deeper objects) are ignored.
public struct VaultData: Decodable, Sendable {
    public var strings: [String: String] = [:]
    public var integers: [String: Int64] = [:]
    public var booleans: [String: Bool] = [:]
    /// KV v2's `data.data`: the stored keys.
    public var nested: [String: String]?

    private struct Key: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    /// Only the string members of an object, without descending further.
    private struct Strings: Decodable {
        var members: [String: String] = [:]

        init(from decoder: Decoder) throws {
            let container = try decoder.container(keyedBy: Key.self)
            for key in container.allKeys {
                if let text = try? container.decode(String.self, forKey: key) { members[key.stringValue] = text }
            }
        }
    }

    public init(from decoder: Decoder) throws {
        let container = try decoder.container(keyedBy: Key.self)
        for key in container.allKeys {
            if let text = try? container.decode(String.self, forKey: key) {
                strings[key.stringValue] = text
            } else if let flag = try? container.decode(Bool.self, forKey: key) {
                booleans[key.stringValue] = flag
            } else if let number = try? container.decode(Int64.self, forKey: key) {
                integers[key.stringValue] = number
            } else if key.stringValue == "data" {
                nested = (try? container.decode(Strings.self, forKey: key))?.members
            }
        }
    }
}

extension VaultToken {
    /// The token's TTL from `auth/token/lookup-self` (VAULT_TOKEN login).
    public static func lookedUp(_ token: String, answer: VaultAnswer, now: Int64, what: String) throws(AgentError) -> VaultToken {
        guard let data = answer.data else { throw AgentError(.vault, "\(what): Vault answered without data") }
        let ttl = try VaultDuration.checked(data.integers["ttl"], named: "ttl", what: what)
        return VaultToken(value: token, ttl: ttl, renewable: data.booleans["renewable"] ?? false, obtained: now)
    }

    /// The `auth` block of a login or `renew-self` answer.
    public static func issued(by answer: VaultAnswer, now: Int64, what: String) throws(AgentError) -> VaultToken {
        guard let auth = answer.auth, !auth.clientToken.isEmpty else { throw AgentError(.vault, "\(what): Vault answered without a token") }
        guard auth.clientToken.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) else {
            // It goes into an X-Vault-Token header: no byte that could end or split the header.
            throw AgentError(.vault, "\(what): Vault answered a token that is not printable ASCII")
        }
        let ttl = try VaultDuration.checked(auth.leaseDuration, named: "auth.lease_duration", what: what)
        return VaultToken(value: auth.clientToken, ttl: ttl, renewable: auth.renewable ?? false, obtained: now)
    }
}

extension VaultSecret {
    /// AWS keys from a secret: the AWS engine's and KV v1's `data`, or KV v2's `data.data`.
    public static func read(from answer: VaultAnswer, now: Int64, what: String) throws(AgentError) -> VaultSecret {
        guard let data = answer.data else { throw AgentError(.vault, "\(what): the secret has no data") }
        let fields = data.nested ?? data.strings
        guard let keyID = fields["access_key"] ?? fields["aws_access_key_id"], !keyID.isEmpty else {
            throw AgentError(.vault, "\(what): the secret has no access_key")
        }
        guard let secret = fields["secret_key"] ?? fields["aws_secret_access_key"], !secret.isEmpty else {
            throw AgentError(.vault, "\(what): the secret has no secret_key")
        }
        let sessionToken = fields["session_token"] ?? fields["security_token"]
        return VaultSecret(
            accessKeyID: keyID, secretAccessKey: secret, sessionToken: sessionToken?.isEmpty == false ? sessionToken : nil,
            leaseID: answer.leaseID ?? "",
            leaseDuration: try VaultDuration.checked(answer.leaseDuration, named: "lease_duration", what: what),
            renewable: answer.renewable ?? false, obtained: now)
    }

    /// The same keys after `sys/leases/renew`: the answer says how long they now live, which may be
    /// less than asked.
    public func renewed(by answer: VaultAnswer, now: Int64, what: String) throws(AgentError) -> VaultSecret {
        var renewed = self
        renewed.leaseDuration = try VaultDuration.checked(answer.leaseDuration, named: "lease_duration", what: what)
        renewed.renewable = answer.renewable ?? false
        renewed.obtained = now
        return renewed
    }
}

/// Vault's durations are whole seconds. Negative ones or ones past Int32.max (68 years) are not
/// Vault's: refused, so that `obtained + duration` and the renewal schedule cannot overflow.
enum VaultDuration {
    static let longest = Int64(Int32.max)

    static func checked(_ seconds: Int64?, named name: String, what: String) throws(AgentError) -> Int64 {
        let value = seconds ?? 0
        guard (0...longest).contains(value) else {
            throw AgentError(.vault, "\(what): Vault answered \(name) \(value), not 0 to \(longest) seconds")
        }
        return value
    }
}
