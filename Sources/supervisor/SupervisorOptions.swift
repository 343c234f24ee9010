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

    @Option(name: goStyle("cross-account-session-name"), help: "RoleSessionName for --cross-account-role (default: the host name).")
    var crossAccountSessionName: String?

    @Option(name: goStyle("cross-account-external-id"), help: "ExternalId for --cross-account-role, when the role's trust policy asks for one.")
    var crossAccountExternalID: String?

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

    @Option(name: goStyle("max-message-size"), help: "Largest message accepted, in bytes (SES v1: 10485760).")
    var maxMessageSize = 10_485_760

    @Option(name: goStyle("idle-timeout"), help: "Seconds a client may stay silent, also during DATA (RFC 5321: at least 300).")
    var idleTimeout = 300

    @Option(name: goStyle("max-connections"), help: "SMTP connections served at once; more get 421.")
    var maxConnections = 1000

    @Option(name: goStyle("max-connections-per-ip"), help: "SMTP connections from one address at once; more get 421.")
    var maxConnectionsPerIP = 100

    @Option(name: goStyle("shutdown-timeout"), help: "Seconds in-flight messages get to finish on SIGTERM or reload.")
    var shutdownTimeout = 30

    @Flag(name: goStyle("add-received-header"), help: "Prepend an RFC 5321 Received: trace header to every message.")
    var addReceivedHeader = false

    @Option(name: goStyle("log-level"), help: "trace, debug, info, notice, warning, error or critical.")
    var logLevel = "info"

    @Argument(help: "Address to accept SMTP on, host:port (default :2500, every address).")
    var listenAddress = ":2500"

    mutating func validate() throws {
        switch (enableVault, vaultPath) {
        case (true, nil):
            throw ValidationError("--enable-vault needs --vault-path (ex: aws/creds/my-mail-user)")
        case (false, .some):
            throw ValidationError("--vault-path needs --enable-vault")
        case (true, let path?):
            guard Self.isVaultPath(path) else {
                throw ValidationError("--vault-path \(path): expected a path like aws/creds/my-mail-user or secret/data/ses")
            }
        case (false, nil):
            break
        }
        if let role = crossAccountRole, !Self.isRoleARN(role) {
            throw ValidationError("--cross-account-role \(role): expected a role ARN like arn:aws:iam::123456789012:role/name")
        }
        if let name = crossAccountSessionName, !Self.isSessionName(name) {
            throw ValidationError("--cross-account-session-name \(name): 2 to 64 letters, digits or +=,.@_-")
        }
        if (crossAccountSessionName != nil || crossAccountExternalID != nil) && crossAccountRole == nil {
            throw ValidationError("--cross-account-session-name and --cross-account-external-id need --cross-account-role")
        }
        guard Logger.Level(rawValue: logLevel) != nil else {
            throw ValidationError("--log-level \(logLevel): use trace, debug, info, notice, warning, error or critical")
        }
        if let name = configurationSetName, !ListenAddress.isPlainToken(name) {
            throw ValidationError("--configuration-set-name \(name): letters, digits, '_' and '-' only")
        }
        for (flag, value, range) in [
            ("--max-message-size", maxMessageSize, 1024...10_485_760),  // SES v1 refuses anything larger
            ("--idle-timeout", idleTimeout, 1...86_400),
            ("--shutdown-timeout", shutdownTimeout, 1...3600),
            ("--max-connections", maxConnections, 1...100_000),
            ("--max-connections-per-ip", maxConnectionsPerIP, 1...100_000),
        ] where !range.contains(value) {
            throw ValidationError("\(flag) \(value): must be from \(range.lowerBound) to \(range.upperBound)")
        }
        for (flag, value) in [("listen address", listenAddress), ("--prometheus-bind", prometheusBind), ("--health-check-bind", healthCheckBind)] {
            do {
                _ = try ListenAddress(parsing: value)
            } catch {
                throw ValidationError("\(flag) \(value): \(error)")
            }
        }
    }

    /// What the agent needs of these options, as its command line.
    func agentArguments(hostname: String) -> [String] {
        var arguments: [String] = []
        if enableVault, let vaultPath {
            arguments += ["--vault-path", Self.relativeVaultPath(vaultPath)]
        }
        guard let crossAccountRole else { return arguments }
        let fallback = String(hostname.filter { $0.isASCII && ($0.isLetter || $0.isNumber || "+=,.@_-".contains($0)) }.prefix(64))
        arguments += [
            "--cross-account-role", crossAccountRole,
            "--cross-account-session-name", crossAccountSessionName ?? (fallback.count >= 2 ? fallback : "ses-smtpd-proxy"),
        ]
        if let crossAccountExternalID { arguments += ["--cross-account-external-id", crossAccountExternalID] }
        return arguments
    }

    /// A Vault API path below /v1/, given with or without the leading slash or v1/.
    static func isVaultPath(_ text: String) -> Bool {
        let path = relativeVaultPath(text)
        let segments = path.split(separator: "/", omittingEmptySubsequences: false)
        return !path.isEmpty && path.utf8.count <= 512 && segments.allSatisfy { segment in
            !segment.isEmpty && segment != "." && segment != ".."
                && segment.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || "_-.@+=".contains($0)) }
        }
    }

    static func relativeVaultPath(_ text: String) -> String {
        var path = Substring(text)
        while path.hasPrefix("/") { path = path.dropFirst() }
        if path.hasPrefix("v1/") { path = path.dropFirst(3) }
        return String(path)
    }

    static func isRoleARN(_ text: String) -> Bool {
        let parts = text.split(separator: ":", maxSplits: 5, omittingEmptySubsequences: false)
        return parts.count == 6 && parts[0] == "arn" && parts[2] == "iam" && parts[5].hasPrefix("role/") && parts[5].count > 5
            && text.utf8.allSatisfy { $0 > 0x20 && $0 < 0x7F }
    }

    static func isSessionName(_ text: String) -> Bool {
        (2...64).contains(text.count) && text.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || "+=,.@_-".contains($0)) }
    }

    /// What the worker needs of these options, as its command line.
    var workerArguments: [String] {
        var arguments = [
            "--max-message-size", "\(maxMessageSize)", "--idle-timeout", "\(idleTimeout)",
            "--max-connections", "\(maxConnections)", "--max-connections-per-ip", "\(maxConnectionsPerIP)",
            "--shutdown-timeout", "\(shutdownTimeout)",
        ]
        if let configurationSetName { arguments += ["--configuration-set-name", configurationSetName] }
        if addReceivedHeader { arguments += ["--add-received-header", "true"] }
        return arguments
    }
}

private func goStyle(_ name: String) -> NameSpecification {
    [.customLong(name), .customLong(name, withSingleDash: true)]
}
