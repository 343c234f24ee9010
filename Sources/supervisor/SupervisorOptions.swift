import ArgumentParser
import Logging
import Shared

/// The Go original's command line (seed README), which users' unit files depend on, plus our own
/// flags. Every long flag also takes Go's single-dash spelling (`-enable-prometheus`).
struct SupervisorOptions: ParsableArguments {
    @Flag(name: goStyle("enable-vault"), help: "Fetch AWS credentials from Vault.")
    var enableVault = false

    @Option(name: goStyle("vault-path"), help: "Full path of the Vault credential (ex: aws/creds/my-mail-user).")
    var vaultPath: String?

    @Option(name: goStyle("cross-account-role"), help: "ARN of a cross-account role to assume for SES.")
    var crossAccountRole: String?

    @Option(name: goStyle("configuration-set-name"), help: "SES configuration set for SendRawEmail.")
    var configurationSetName: String?

    @Flag(name: goStyle("enable-prometheus"), help: "Serve Prometheus metrics at /metrics.")
    var enablePrometheus = false

    @Option(name: goStyle("prometheus-bind"), help: "Address of the metrics server.")
    var prometheusBind = ":2501"

    @Flag(name: goStyle("enable-health-check"), help: "Serve a JSON health check at /health.")
    var enableHealthCheck = false

    @Option(name: goStyle("health-check-bind"), help: "Address of the health check server.")
    var healthCheckBind = ":3000"

    @Option(name: goStyle("worker-user"), help: "User the SMTP worker runs as when started as root.")
    var workerUser = "_ses-smtp"

    @Option(name: goStyle("agent-user"), help: "User the credential agent runs as when started as root.")
    var agentUser = "_ses-cred"

    @Option(name: goStyle("hostname"), help: "Name in the SMTP banner and EHLO reply (default: the host name).")
    var hostname: String?

    @Option(name: goStyle("log-level"), help: "trace, debug, info, notice, warning, error or critical.")
    var logLevel = "info"

    @Argument(help: "Address to accept SMTP on, host:port (default :2500, every address).")
    var listenAddress = ":2500"

    mutating func validate() throws {
        if enableVault || vaultPath != nil {
            throw ValidationError("--enable-vault/--vault-path: Vault support is not available in this version yet")
        }
        if crossAccountRole != nil {
            throw ValidationError("--cross-account-role: role assumption is not available in this version yet")
        }
        guard Logger.Level(rawValue: logLevel) != nil else {
            throw ValidationError("--log-level \(logLevel): use trace, debug, info, notice, warning, error or critical")
        }
        if let name = configurationSetName, !ListenAddress.isPlainToken(name) {
            throw ValidationError("--configuration-set-name \(name): letters, digits, '_' and '-' only")
        }
        for (flag, value) in [("listen address", listenAddress), ("--prometheus-bind", prometheusBind), ("--health-check-bind", healthCheckBind)] {
            do {
                _ = try ListenAddress(parsing: value)
            } catch {
                throw ValidationError("\(flag) \(value): \(error)")
            }
        }
    }
}


private func goStyle(_ name: String) -> NameSpecification {
    [.customLong(name), .customLong(name, withSingleDash: true)]
}
