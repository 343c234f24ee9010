import Testing

@testable import supervisor

/// The Go original's command line is a compatibility contract (seed README).
struct SupervisorOptionsTests {
    @Test func defaultsMatchTheOriginal() throws {
        let options = try SupervisorOptions.parse([])
        #expect(options.listenAddress == ":2500")
        #expect(options.prometheusBind == ":2501")
        #expect(options.healthCheckBind == ":3000")
        #expect(!options.enablePrometheus && !options.enableHealthCheck)
        #expect(options.workerUser == "_ses-smtp" && options.agentUser == "_ses-cred")
    }

    @Test(arguments: [
        ["--configuration-set-name=set-1", "--enable-prometheus", "--prometheus-bind=127.0.0.1:9", "127.0.0.1:2600"],
        ["--configuration-set-name", "set-1", "--enable-prometheus", "--prometheus-bind", "127.0.0.1:9", "127.0.0.1:2600"],
        ["-configuration-set-name", "set-1", "-enable-prometheus", "-prometheus-bind=127.0.0.1:9", "127.0.0.1:2600"],
    ])
    func everySpellingOfAFlagWorks(_ arguments: [String]) throws {
        let options = try SupervisorOptions.parse(arguments)
        #expect(options.configurationSetName == "set-1")
        #expect(options.enablePrometheus)
        #expect(options.prometheusBind == "127.0.0.1:9")
        #expect(options.listenAddress == "127.0.0.1:2600")
    }

    @Test(arguments: [
        (["--frobnicate"], "frobnicate"),
        (["--enable-vault"], "--enable-vault needs --vault-path"),
        (["--vault-path=aws/creds/x"], "--vault-path needs --enable-vault"),
        (["--enable-vault", "--vault-path=aws/../sys/x"], "--vault-path"),
        (["--enable-vault", "--vault-path=aws/creds/x?list=true"], "--vault-path"),
        (["--cross-account-role=arn:aws:s3:::bucket"], "--cross-account-role"),
        (["--cross-account-session-name=x"], "--cross-account-session-name"),
        (["--cross-account-external-id=e"], "need --cross-account-role"),
        (["--health-check-bind=nowhere"], "--health-check-bind"),
        (["localhost:99999"], "listen address"),
        (["--configuration-set-name=a b"], "--configuration-set-name"),
        (["--log-level=loud"], "--log-level"),
        (["--ses-api=v3"], "--ses-api"),
        (["--source-arn=arn:aws:iam::123456789012:role/x"], "--source-arn"),
        (["--from-arn=arn:aws:ses:us-east-1:1234:identity/x"], "--from-arn"),
        (["--return-path-arn=identity/x"], "--return-path-arn"),
        (["--tag=a"], "--tag a"),
        (["--tag=a=b c"], "--tag a=b c"),
        (["--tag=a=b,c=d"], "--tag a=b,c=d"),
        (["--tag=a=b", "--tag=a=c"], "given twice"),
        (["--max-send-rate=0"], "--max-send-rate"),
        (["--max-send-rate=fast"], "--max-send-rate"),
        (["--ses-timeout=1"], "--ses-timeout"),
        (["--max-message-size=20000000"], "--max-message-size 20000000: must be from 1024 to 10485760"),
        (["--ses-api=v2", "--max-message-size=50000000"], "to 41943040"),
        (["--tls-cert=/c"], "--tls-cert needs --tls-key"),
        (["--tls-key=/k"], "--tls-key needs --tls-cert"),
        (["--require-tls"], "--require-tls needs --tls-cert"),
        (["--tls-listen=127.0.0.1:465"], "--tls-listen needs --tls-cert"),
        (["--tls-cert=/c", "--tls-key=/k", "--tls-listen=465"], "--tls-listen 465"),
        (["--allow-from=10.0.0.1/8"], "did you mean 10.0.0.0/8"),
        (["--require-auth"], "--require-auth needs --auth-users-file"),
        (["--allow-insecure-auth"], "--allow-insecure-auth needs --auth-users-file"),
        (["--auth-users-file=/u"], "--auth-users-file needs --tls-cert"),
        (["--allow-sender=(x"], "--allow-sender"),
    ])
    func badCommandLineIsRefusedNamingTheFlag(_ arguments: [String], _ named: String) {
        #expect {
            try SupervisorOptions.parse(arguments)
        } throws: { error in
            SupervisorOptions.fullMessage(for: error).contains(named)
        }
    }

    @Test func crossAccountRoleGoesToTheAgentOnly() throws {
        let options = try SupervisorOptions.parse(["--cross-account-role=arn:aws:iam::123456789012:role/Send", "--cross-account-external-id=x-1"])
        #expect(options.agentArguments(hostname: "mail host.example") == [
            "--cross-account-role", "arn:aws:iam::123456789012:role/Send", "--cross-account-session-name", "mailhost.example",
            "--cross-account-external-id", "x-1",
        ])
        #expect(!options.workerArguments.contains { $0.contains("cross-account") })
    }

    @Test func sesSettingsGoToTheWorker() throws {
        let arn = "arn:aws:ses:eu-west-1:123456789012:identity/example.com"
        let options = try SupervisorOptions.parse([
            "--ses-api=v2", "--tag=app=cron", "--tag", "env=prod", "--source-arn=\(arn)", "--max-send-rate=auto", "--ses-timeout=12",
        ])
        let arguments = options.workerArguments
        func value(_ name: String) -> String? { arguments.firstIndex(of: name).map { arguments[$0 + 1] } }
        #expect(value("--ses-api") == "v2" && value("--max-message-size") == "41943040", "v2 raises the default size")
        #expect(value("--tags") == "app=cron,env=prod")
        #expect(value("--source-arn") == arn && value("--from-arn") == nil)
        #expect(value("--max-send-rate") == "auto" && value("--ses-timeout") == "12")
        #expect(try SupervisorOptions.parse([]).workerArguments.contains("10485760"), "v1 keeps the original's default")
    }

    @Test func vaultPathGoesToTheAgentBelowV1() throws {
        let options = try SupervisorOptions.parse(["--enable-vault", "--vault-path=/v1/aws/creds/mail"])
        #expect(options.agentArguments(hostname: "h") == ["--vault-path", "aws/creds/mail"])
        #expect(!options.workerArguments.contains { $0.contains("vault") })
    }

    @Test(arguments: [
        (":2500", ListenAddress(host: "", port: 2500)),
        ("127.0.0.1:25", ListenAddress(host: "127.0.0.1", port: 25)),
        ("[::1]:2525", ListenAddress(host: "::1", port: 2525)),
        ("localhost:0", ListenAddress(host: "localhost", port: 0)),
    ])
    func listenAddressesParse(_ text: String, _ expected: ListenAddress) throws {
        #expect(try ListenAddress(parsing: text) == expected)
    }

    @Test(arguments: ["2500", "::1:25", "[::1:25", "host:", "host:-1", "host:65536"])
    func badListenAddressesAreRefused(_ text: String) {
        #expect(throws: ListenAddress.Problem.self) { try ListenAddress(parsing: text) }
    }

    @Test func workerEnvironmentHoldsNoSecrets() {
        let environment = [
            "AWS_ACCESS_KEY_ID": "AKID", "AWS_SECRET_ACCESS_KEY": "secret", "AWS_SESSION_TOKEN": "token",
            "VAULT_TOKEN": "vault", "AWS_ENDPOINT_URL_SES": "http://127.0.0.1:1", "PATH": "/bin",
        ]
        #expect(ChildEnvironment.filter(environment, allowed: ChildEnvironment.worker) == ["AWS_ENDPOINT_URL_SES=http://127.0.0.1:1"])
        let agent = ChildEnvironment.filter(environment, allowed: ChildEnvironment.agent)
        #expect(agent.contains("AWS_SECRET_ACCESS_KEY=secret"))
        #expect(agent.contains("VAULT_TOKEN=vault"))
        #expect(!agent.contains { $0.hasPrefix("PATH=") })
    }
}
