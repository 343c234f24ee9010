import FoundationEssentials
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
        try JSONDecoder().decode(VaultAnswer.self, from: Data(json.utf8))
    }

    @Test func kvVersion2KeysAreFoundUnderDataData() throws {
        let answer = try Self.decode("""
            {"lease_id":"","renewable":false,"lease_duration":0,"data":{"data":{"access_key":"AKID","secret_key":"s",
            "note":{"x":1},"n":3},"metadata":{"version":1,"destroyed":false}},"auth":null}
            """)
        #expect(answer.data?.nested?.strings == ["access_key": "AKID", "secret_key": "s"])
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
}
