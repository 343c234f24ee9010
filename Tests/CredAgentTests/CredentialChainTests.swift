import Shared
import Testing

@testable import cred_agent

struct CredentialChainTests {
    static func sources(
        environment: [String: String] = [:],
        credentials: String = "",
        config: String = ""
    ) -> CredentialSources {
        CredentialSources(
            environment: environment,
            credentialsFile: SharedConfigFile(parsing: credentials),
            credentialsPath: "/h/.aws/credentials",
            configFile: SharedConfigFile(parsing: config),
            configPath: "/h/.aws/config")
    }

    static let credentialsFile = """
        # comment
        [default]
        aws_access_key_id = AKIDDEFAULT
        aws_secret_access_key = secret-default

        [mail]
        aws_access_key_id=AKIDMAIL
        aws_secret_access_key=secret-mail
        aws_session_token = token-mail
        """

    static let configFile = """
        [default]
        region = us-east-1
        [profile mail]
        region = eu-west-1
        s3 =
          max_concurrent_requests = 10
        """

    @Test func environmentWinsOverFiles() throws {
        let found = try CredentialChain.resolve(
            Self.sources(environment: ["AWS_ACCESS_KEY_ID": "AKIDENV", "AWS_SECRET_ACCESS_KEY": "s", "AWS_SESSION_TOKEN": "t"],
                         credentials: Self.credentialsFile))
        #expect(found.accessKeyID == "AKIDENV")
        #expect(found.sessionToken == "t")
        #expect(found.source == "environment")
    }

    @Test func profileIsReadFromTheCredentialsFile() throws {
        let sources = Self.sources(environment: ["AWS_PROFILE": "mail"], credentials: Self.credentialsFile, config: Self.configFile)
        let found = try CredentialChain.resolve(sources)
        #expect(found.accessKeyID == "AKIDMAIL")
        #expect(found.secretAccessKey == "secret-mail")
        #expect(found.sessionToken == "token-mail")
        #expect(try CredentialChain.region(sources) == "eu-west-1")
    }

    @Test func defaultProfileAndRegion() throws {
        let sources = Self.sources(credentials: Self.credentialsFile, config: Self.configFile)
        #expect(try CredentialChain.resolve(sources).accessKeyID == "AKIDDEFAULT")
        #expect(try CredentialChain.region(sources) == "us-east-1")
        #expect(try CredentialChain.region(Self.sources(environment: ["AWS_DEFAULT_REGION": "ap-south-1"], config: Self.configFile)) == "ap-south-1")
        #expect(try CredentialChain.region(Self.sources(environment: ["AWS_REGION": "sa-east-1", "AWS_DEFAULT_REGION": "ap-south-1"])) == "sa-east-1")
    }

    @Test(arguments: [
        ([String: String](), "", "", AgentError.Code.noCredentials, "AWS_ACCESS_KEY_ID"),
        (["AWS_ACCESS_KEY_ID": "AKID"], "", "", .incompleteCredentials, "AWS_SECRET_ACCESS_KEY"),
        (["AWS_PROFILE": "missing"], credentialsFile, "", .profileNotFound, "AWS_PROFILE=missing"),
        ([:], "[default]\naws_access_key_id = A\n", "", .incompleteCredentials, "aws_secret_access_key"),
        ([:], "", "[default]\nrole_arn = arn:aws:iam::1:role/r\n", .unsupported, "role_arn"),
    ])
    func missingOrBrokenCredentialsNameWhatToFix(
        _ environment: [String: String], _ credentials: String, _ config: String, _ code: AgentError.Code, _ named: String
    ) {
        #expect {
            try CredentialChain.resolve(Self.sources(environment: environment, credentials: credentials, config: config))
        } throws: { error in
            guard let error = error as? AgentError else { return false }
            return error.code == code && error.detail.contains(named)
        }
    }

    @Test func missingOrBadRegionIsAnError() {
        #expect { try CredentialChain.region(Self.sources()) } throws: { ($0 as? AgentError)?.detail.contains("AWS_REGION") == true }
        #expect { try CredentialChain.region(Self.sources(environment: ["AWS_REGION": "us east 1"])) } throws: {
            ($0 as? AgentError)?.detail.contains("AWS_REGION=us east 1") == true
        }
    }

    @Test func descriptionNeverShowsTheSecret() throws {
        let found = try CredentialChain.resolve(Self.sources(credentials: Self.credentialsFile))
        #expect(!"\(found)".contains("secret-default"))
        #expect(!"\(found)".contains("AKIDDEFAULT"))
    }
}

struct SigningMaterialTests {
    static let base = BaseCredentials(
        accessKeyID: "AKIDEXAMPLE", secretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", sessionToken: "tok",
        expiration: 1_900_000_000, source: "test")

    @Test func workerGetsTodaysDerivedKeyNotTheSecret() {
        let noon: Int64 = 1_795_608_000  // 2026-11-25T12:00:00Z
        let material = SigningMaterial.credentials(from: Self.base, region: "eu-west-1", now: noon)
        #expect(material.signingKeys.map(\.date) == ["20261125"])
        #expect(material.signingKeys.first?.key == SigV4.signingKey(
            secretAccessKey: Self.base.secretAccessKey, date: "20261125", region: "eu-west-1", service: "ses"))
        #expect(material.accessKeyID == "AKIDEXAMPLE")
        #expect(material.sessionToken == "tok")
        #expect(material.expiration == 1_900_000_000)
    }

    @Test func lastHourOfTheDayAlsoCarriesTomorrowsKey() {
        let late: Int64 = 1_795_651_199 - 1800  // 2026-11-25T23:30:00Z
        #expect(SigningMaterial.credentials(from: Self.base, region: "us-east-1", now: late).signingKeys.map(\.date) == ["20261125", "20261126"])
        let beforeWindow: Int64 = 1_795_651_200 - 3601
        #expect(SigningMaterial.credentials(from: Self.base, region: "us-east-1", now: beforeWindow).signingKeys.count == 1)
    }
}
