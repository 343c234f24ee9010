import CredentialDocuments
import Shared
import Testing

@testable import cred_agent

struct CredentialChainTests {
    static func sources(
        environment: [String: String] = [:],
        credentials: String = "",
        config: String = ""
    ) -> CredentialSources {
        // Unit tests never reach out to 169.254.169.254; the tests that want IMDS point it elsewhere.
        CredentialSources(
            environment: environment.merging(["AWS_EC2_METADATA_DISABLED": "true"]) { given, _ in given },
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

    static func fixed(_ source: CredentialSource) -> BaseCredentials? {
        guard case .fixed(let credentials) = source else { return nil }
        return credentials
    }

    @Test func environmentWinsOverFiles() throws {
        let found = try #require(Self.fixed(try CredentialChain.resolve(
            Self.sources(environment: ["AWS_ACCESS_KEY_ID": "AKIDENV", "AWS_SECRET_ACCESS_KEY": "s", "AWS_SESSION_TOKEN": "t",
                                       "AWS_WEB_IDENTITY_TOKEN_FILE": "/t", "AWS_ROLE_ARN": "arn:aws:iam::1:role/r"],
                         credentials: Self.credentialsFile))))
        #expect(found.accessKeyID == "AKIDENV")
        #expect(found.sessionToken == "t")
        #expect(found.source == "environment")
    }

    @Test func webIdentityComesBeforeTheFiles() throws {
        let environment = ["AWS_WEB_IDENTITY_TOKEN_FILE": "/var/run/token", "AWS_ROLE_ARN": "arn:aws:iam::1:role/r", "AWS_ROLE_SESSION_NAME": "pod-1"]
        let source = try CredentialChain.resolve(Self.sources(environment: environment, credentials: Self.credentialsFile))
        #expect(source == .webIdentity(roleArn: "arn:aws:iam::1:role/r", sessionName: "pod-1", tokenFile: TokenFile(path: "/var/run/token", descriptor: nil)))
        #expect {
            try CredentialChain.resolve(Self.sources(environment: ["AWS_WEB_IDENTITY_TOKEN_FILE": "/t"]))
        } throws: { ($0 as? AgentError)?.detail.contains("AWS_ROLE_ARN") == true }
    }

    @Test func profileRoleIsAssumedWithItsSourceProfile() throws {
        let config = """
            [profile relay]
            role_arn = arn:aws:iam::2:role/sender
            source_profile = mail
            external_id = ext-1
            [profile pod]
            role_arn = arn:aws:iam::2:role/pod
            web_identity_token_file = /var/run/token
            [profile loop]
            role_arn = arn:aws:iam::2:role/x
            source_profile = loop2
            [profile loop2]
            role_arn = arn:aws:iam::2:role/y
            source_profile = loop
            """
        let relay = try CredentialChain.resolve(Self.sources(environment: ["AWS_PROFILE": "relay"], credentials: Self.credentialsFile, config: config))
        guard case .assumeRole(let role, _, let externalID, let base) = relay else { Issue.record("not a role: \(relay)"); return }
        #expect(role == "arn:aws:iam::2:role/sender")
        #expect(externalID == "ext-1")
        #expect(Self.fixed(base)?.accessKeyID == "AKIDMAIL")
        let pod = try CredentialChain.resolve(Self.sources(environment: ["AWS_PROFILE": "pod"], config: config))
        #expect(pod == .webIdentity(roleArn: "arn:aws:iam::2:role/pod", sessionName: "ses-smtpd-proxy", tokenFile: TokenFile(path: "/var/run/token", descriptor: nil)))
        #expect {
            try CredentialChain.resolve(Self.sources(environment: ["AWS_PROFILE": "loop"], config: config))
        } throws: { ($0 as? AgentError)?.detail.contains("source_profile chain") == true }
    }

    @Test func profileIsReadFromTheCredentialsFile() throws {
        let sources = Self.sources(environment: ["AWS_PROFILE": "mail"], credentials: Self.credentialsFile, config: Self.configFile)
        let found = try #require(Self.fixed(try CredentialChain.resolve(sources)))
        #expect(found.accessKeyID == "AKIDMAIL")
        #expect(found.secretAccessKey == "secret-mail")
        #expect(found.sessionToken == "token-mail")
        #expect(try CredentialChain.region(sources) == "eu-west-1")
    }

    @Test func defaultProfileAndRegion() throws {
        let sources = Self.sources(credentials: Self.credentialsFile, config: Self.configFile)
        #expect(Self.fixed(try CredentialChain.resolve(sources))?.accessKeyID == "AKIDDEFAULT")
        #expect(try CredentialChain.region(sources) == "us-east-1")
        #expect(try CredentialChain.region(Self.sources(environment: ["AWS_DEFAULT_REGION": "ap-south-1"], config: Self.configFile)) == "ap-south-1")
        #expect(try CredentialChain.region(Self.sources(environment: ["AWS_REGION": "sa-east-1", "AWS_DEFAULT_REGION": "ap-south-1"])) == "sa-east-1")
    }

    @Test(arguments: [
        ([String: String](), "", "", AgentError.Code.noCredentials, "AWS_ACCESS_KEY_ID"),
        (["AWS_ACCESS_KEY_ID": "AKID"], "", "", .incompleteCredentials, "AWS_SECRET_ACCESS_KEY"),
        (["AWS_PROFILE": "missing"], credentialsFile, "", .profileNotFound, "AWS_PROFILE=missing"),
        ([:], "[default]\naws_access_key_id = A\n", "", .incompleteCredentials, "aws_secret_access_key"),
        ([:], "", "[default]\nrole_arn = arn:aws:iam::1:role/r\n", .unsupported, "role_arn needs source_profile"),
        ([:], "", "[default]\ncredential_process = /bin/creds 'open\n", .unsupported, "credential_process"),
        ([:], "", "[default]\nsso_session = corp\n", .unsupported, "sso_session"),
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

    @Test func containerEndpointComesAfterProfilesAndBeforeInstanceMetadata() throws {
        let container = ["AWS_CONTAINER_CREDENTIALS_RELATIVE_URI": "/v2/credentials/abc", "AWS_EC2_METADATA_DISABLED": "false"]
        #expect(try CredentialChain.resolve(Self.sources(environment: container)) == .container(
            ContainerEndpoint(url: "http://169.254.170.2/v2/credentials/abc", variable: "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
                              authorization: nil)))
        #expect(Self.fixed(try CredentialChain.resolve(Self.sources(environment: container, credentials: Self.credentialsFile)))?
            .accessKeyID == "AKIDDEFAULT")
        #expect(try CredentialChain.resolve(Self.sources(environment: ["AWS_EC2_METADATA_DISABLED": "false"])) == .instanceMetadata(
            InstanceMetadata(endpoint: InstanceMetadata.defaultEndpoint)))
        let moved = ["AWS_EC2_METADATA_DISABLED": "false", "AWS_EC2_METADATA_SERVICE_ENDPOINT": "http://[fd00:ec2::254]/"]
        #expect(try CredentialChain.resolve(Self.sources(environment: moved)) == .instanceMetadata(
            InstanceMetadata(endpoint: "http://[fd00:ec2::254]")))
    }

    @Test(arguments: [
        ("http://127.0.0.1:8080/creds", true), ("http://169.254.170.23/v1/credentials", true), ("http://[fd00:ec2::23]/c", true),
        ("https://creds.example/c", true), ("http://creds.example/c", false), ("http://169.254.169.254.example/c", false),
        ("http://127.0.0.1@creds.example/c", false), ("http://127.creds.example/c", false), ("http://localhost:8080/c", true),
    ])
    func fullURIMustBeLocalOrHTTPS(_ url: String, _ accepted: Bool) throws {
        let environment = ["AWS_CONTAINER_CREDENTIALS_FULL_URI": url, "AWS_CONTAINER_AUTHORIZATION_TOKEN": "tok"]
        if accepted {
            let endpoint = try #require(try ContainerEndpoint.configured(environment, tokenFile: nil))
            #expect(endpoint.url == url)
            #expect(endpoint.authorization == .literal("tok"))
        } else {
            #expect(throws: AgentError.self) { try ContainerEndpoint.configured(environment, tokenFile: nil) }
        }
    }

    @Test func metadataAnswerIsRead() throws {
        let answer = #"{"Code":"Success","AccessKeyId":"ASIAX","SecretAccessKey":"s","Token":"t","Expiration":"2026-12-02T09:13:34Z"}"#
        let keys = try CredentialsJSON.credentials(from: Array(answer.utf8), source: "EC2 instance role r")
        #expect(keys.accessKeyID == "ASIAX")
        #expect(keys.sessionToken == "t")
        #expect(keys.expiration == UTCTime.epochSeconds(iso8601: "2026-12-02T09:13:34Z"))
        #expect(throws: AgentError.self) {
            try CredentialsJSON.credentials(from: Array(#"{"Code":"AssumeRoleUnauthorizedAccess","Message":"no"}"#.utf8), source: "r")
        }
    }

    @Test(arguments: [
        ("/usr/bin/creds --profile mail", ["/usr/bin/creds", "--profile", "mail"]),
        ("  creds  'two words' \"a \\\"q\\\"\" x\\ y ''", ["creds", "two words", "a \"q\"", "x y", ""]),
    ])
    func credentialProcessIsSplitLikeAShellWithoutExpansion(_ command: String, _ words: [String]) {
        #expect(CredentialProcess.split(command) == words)
    }

    @Test func credentialProcessComesAfterStaticKeys() throws {
        let config = "[profile tool]\ncredential_process = /opt/get-keys --role mail\n"
        let source = try CredentialChain.resolve(Self.sources(environment: ["AWS_PROFILE": "tool"], config: config))
        guard case .process(let process) = source else {
            Issue.record("expected credential_process, got \(source)")
            return
        }
        #expect(process.arguments == ["/opt/get-keys", "--role", "mail"])
    }

    @Test func missingOrBadRegionIsAnError() {
        #expect { try CredentialChain.region(Self.sources()) } throws: { ($0 as? AgentError)?.detail.contains("AWS_REGION") == true }
        #expect { try CredentialChain.region(Self.sources(environment: ["AWS_REGION": "us east 1"])) } throws: {
            ($0 as? AgentError)?.detail.contains("AWS_REGION=us east 1") == true
        }
    }

    @Test func descriptionNeverShowsTheSecret() throws {
        let found = try #require(Self.fixed(try CredentialChain.resolve(Self.sources(credentials: Self.credentialsFile))))
        #expect(!"\(found)".contains("secret-default"))
        #expect(!"\(found)".contains("AKIDDEFAULT"))
    }
}

struct RefreshScheduleTests {
    @Test(arguments: [(Int64(3600), Int64(2700)), (43_200, 42_300), (1800, 900), (600, 300), (1, 1)])
    func refreshComesWellBeforeExpiry(_ remaining: Int64, _ delay: Int64) {
        #expect(RefreshSchedule.delay(untilExpiration: remaining) == delay)
        #expect(remaining - delay >= min(remaining / 2, 900), "at least 5 minutes, or half the life, are left for retries")
    }

    @Test func retriesBackOffButNeverPastExpiry() {
        #expect((1...8).map { RefreshSchedule.retryDelay(attempt: $0, remaining: 100_000) } == [10, 20, 40, 80, 160, 300, 300, 300])
        #expect(RefreshSchedule.retryDelay(attempt: 5, remaining: 60) == 30)
    }
}

struct STSAnswerTests {
    @Test func assumeRoleAnswerIsRead() throws {
        let answer = """
            <AssumeRoleResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><AssumeRoleResult>
            <AssumedRoleUser><AssumedRoleId>AROA:s</AssumedRoleId><Arn>arn:aws:sts::2:assumed-role/sender/s</Arn></AssumedRoleUser>
            <Credentials><AccessKeyId>ASIAEXAMPLE</AccessKeyId><SecretAccessKey>s3cr3t</SecretAccessKey>
            <SessionToken>tok&amp;en</SessionToken><Expiration>2026-12-02T09:13:34Z</Expiration></Credentials>
            </AssumeRoleResult></AssumeRoleResponse>
            """
        let assumed = try AssumedCredentials(parsing: Array(answer.utf8), source: "role r")
        #expect(assumed.credentials.accessKeyID == "ASIAEXAMPLE")
        #expect(assumed.credentials.sessionToken == "tok&en")
        #expect(assumed.credentials.expiration == UTCTime.epochSeconds(iso8601: "2026-12-02T09:13:34Z"))
        #expect(assumed.arn == "arn:aws:sts::2:assumed-role/sender/s")
    }

    @Test func incompleteAnswerIsAnError() {
        #expect(throws: AgentError.self) {
            try AssumedCredentials(parsing: Array("<Credentials><AccessKeyId>A</AccessKeyId></Credentials>".utf8), source: "role r")
        }
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
