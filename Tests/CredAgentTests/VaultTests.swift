import CredentialDocuments
import Shared
import Testing

@testable import cred_agent

struct VaultTests {
    static let address = ["VAULT_ADDR": "https://vault.example:8200/"]

    static func settings(_ environment: [String: String], secretIDFile: TokenFile? = nil) throws(AgentError) -> VaultSettings {
        try VaultSettings(environment: environment, secretPath: "aws/creds/mail", secretIDFile: secretIDFile, jwtFile: nil)
    }

    @Test func appRoleWinsOverAToken() throws {
        let settings = try Self.settings(
            Self.address.merging(["VAULT_TOKEN": "t", "VAULT_APPROLE_ROLE_ID": "r", "VAULT_APPROLE_SECRET_ID": "s"]) { $1 })
        #expect(settings.login == .appRole(roleID: "r", secretID: .literal("s")))
        #expect(settings.address == "https://vault.example:8200")
    }

    @Test func appRoleSecretIDMayComeFromAFile() throws {
        let file = TokenFile(path: "/run/credentials/x/vault-approle-secret-id", descriptor: nil)
        let settings = try Self.settings(Self.address.merging(["VAULT_APPROLE_ROLE_ID": "r"]) { $1 }, secretIDFile: file)
        #expect(settings.login == .appRole(roleID: "r", secretID: .file(file)))
    }

    @Test(arguments: [
        ([:], "VAULT_ADDR is not set"),
        (["VAULT_ADDR": "vault:8200", "VAULT_TOKEN": "t"], "VAULT_ADDR=vault:8200"),
        (["VAULT_ADDR": "http://v", "VAULT_APPROLE_ROLE_ID": "r"], "VAULT_APPROLE_SECRET_ID"),
        (["VAULT_ADDR": "http://v", "VAULT_JWT_ROLE": "r"], "VAULT_JWT_FILE"),
        (["VAULT_ADDR": "http://v", "VAULT_TOKEN": "t", "VAULT_SKIP_VERIFY": "maybe"], "VAULT_SKIP_VERIFY=maybe"),
        (["VAULT_ADDR": "http://v", "VAULT_TOKEN": "t", "VAULT_CACERT": "/nonexistent/ca.pem"], "VAULT_CACERT=/nonexistent/ca.pem"),
        (["VAULT_ADDR": "http://v"], "no Vault login"),
    ])
    func badSettingsNameTheVariable(_ environment: [String: String], _ named: String) {
        #expect {
            _ = try Self.settings(environment)
        } throws: { error in
            (error as? AgentError)?.detail.contains(named) == true
        }
    }

    static func decode(_ json: String) throws -> VaultAnswer {
        try #require(VaultAnswer.decode(Array(json.utf8)))
    }

    @Test func kvVersion2KeysAreFoundUnderDataData() throws {
        let answer = try Self.decode("""
            {"lease_id":"","renewable":false,"lease_duration":0,"data":{"data":{"access_key":"AKID","secret_key":"s",
            "note":{"x":1},"n":3},"metadata":{"version":1,"destroyed":false}},"auth":null}
            """)
        #expect(answer.data?.nested == ["access_key": "AKID", "secret_key": "s"])
        let secret = try VaultSecret.read(from: answer, now: 1000, what: "kv")
        #expect(secret.accessKeyID == "AKID" && secret.expiration == nil)
    }

    @Test func awsEngineAnswerKeepsItsLease() throws {
        let answer = try Self.decode("""
            {"lease_id":"aws/creds/mail/abc","renewable":true,"lease_duration":2764800,
            "data":{"access_key":"AKID","secret_key":"s","security_token":null}}
            """)
        #expect(answer.leaseID == "aws/creds/mail/abc")
        #expect(answer.leaseDuration == 2_764_800)
        #expect(answer.renewable == true)
        #expect(answer.data?.strings == ["access_key": "AKID", "secret_key": "s"])
        #expect(answer.data?.nested == nil)
    }

    @Test func tokenLookupGivesTTLAndRenewable() throws {
        let answer = try Self.decode(#"{"data":{"ttl":0,"renewable":false,"policies":["root"]}}"#)
        #expect(answer.data?.integers["ttl"] == 0)
        #expect(answer.data?.booleans["renewable"] == false)
    }

    @Test func aDynamicSecretExpiresWithItsLeaseAndKVNever() {
        let leased = VaultSecret(
            accessKeyID: "A", secretAccessKey: "s", sessionToken: nil, leaseID: "aws/creds/x/1", leaseDuration: 60, renewable: true,
            obtained: 1000)
        var stored = leased
        stored.leaseID = ""
        #expect(leased.expiration == 1060)
        #expect(stored.expiration == nil)
    }

    @Test func aLeaseFromTheAWSEngineExpiresWithIt() throws {
        let answer = try Self.decode("""
            {"lease_id":"aws/creds/mail/abc","renewable":true,"lease_duration":3600,
            "data":{"access_key":"AKID","secret_key":"s","security_token":"tok"}}
            """)
        let secret = try VaultSecret.read(from: answer, now: 1000, what: "aws")
        #expect(secret.sessionToken == "tok" && secret.expiration == 4600 && secret.renewable)
        let renewed = try secret.renewed(by: try Self.decode(#"{"lease_duration":60,"renewable":false}"#), now: 2000, what: "r")
        #expect(renewed.expiration == 2060 && !renewed.renewable && renewed.accessKeyID == "AKID")
    }

    // Int64.max would have trapped in `obtained + leaseDuration` and in the renewal schedule: a Vault
    // (or anything answering at VAULT_ADDR) could stop the agent with one number.
    @Test(arguments: ["-1", "9223372036854775807", "2147483648"])
    func aDurationOutOfRangeIsRefusedNamingTheField(_ duration: String) throws {
        let secretAnswer = try Self.decode(#"{"lease_id":"l","lease_duration":\#(duration),"data":{"access_key":"A","secret_key":"s"}}"#)
        #expect { try VaultSecret.read(from: secretAnswer, now: 1, what: "p") } throws: {
            ($0 as? AgentError)?.detail == "p: Vault answered lease_duration \(duration), not 0 to 2147483647 seconds"
        }
        let login = try Self.decode(#"{"auth":{"client_token":"hvs.x","lease_duration":\#(duration)}}"#)
        #expect { try VaultToken.issued(by: login, now: 1, what: "login") } throws: {
            ($0 as? AgentError)?.detail.contains("auth.lease_duration \(duration)") == true
        }
        let lookup = try Self.decode(#"{"data":{"ttl":\#(duration)}}"#)
        #expect(throws: AgentError.self) { try VaultToken.lookedUp("t", answer: lookup, now: 1, what: "lookup") }
    }

    @Test func aTokenThatCouldSplitAHeaderIsRefused() throws {
        let answer = try Self.decode(#"{"auth":{"client_token":"hvs.x\r\nX-Other: y","lease_duration":60}}"#)
        #expect { try VaultToken.issued(by: answer, now: 1, what: "login") } throws: {
            ($0 as? AgentError)?.detail == "login: Vault answered a token that is not printable ASCII"
        }
        let token = try VaultToken.issued(by: try Self.decode(#"{"auth":{"client_token":"hvs.x","lease_duration":60,"renewable":true}}"#), now: 5, what: "l")
        #expect(token.value == "hvs.x" && token.ttl == 60 && token.renewable && token.obtained == 5)
    }
}
