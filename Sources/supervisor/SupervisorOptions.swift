import ArgumentParser
import Logging
import Shared

#if canImport(Glibc)
import Glibc
#endif

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

    @Option(name: goStyle("max-message-size"), help: "Largest message accepted, in bytes (default and most: 10485760 with --ses-api v1, 41943040 with v2).")
    var maxMessageSize: Int?

    @Option(name: goStyle("spool-dir"), help: "Directory where the part of a message past 256 KiB waits, in unnamed files (default /var/tmp).")
    var spoolDir = "/var/tmp"

    @Option(name: goStyle("ses-api"), help: "v1 (SendRawEmail, as the original) or v2 (SESv2 SendEmail, messages up to 40 MiB).")
    var sesAPI = "v1"

    @Option(name: goStyle("source-arn"), help: "Sending authorization: ARN of the identity the message is sent for (v1 SourceArn).")
    var sourceARN: String?

    @Option(name: goStyle("from-arn"), help: "Sending authorization: ARN of the From identity (v1 FromArn, v2 FromEmailAddressIdentityArn).")
    var fromARN: String?

    @Option(name: goStyle("return-path-arn"), help: "Sending authorization: ARN of the Return-Path identity (v1 ReturnPathArn, v2 FeedbackForwardingEmailAddressIdentityArn).")
    var returnPathARN: String?

    @Option(name: goStyle("tag"), help: "Message tag NAME=VALUE sent with every message (repeatable).")
    var tags: [String] = []

    @Option(name: goStyle("max-send-rate"), help: "Recipients per second sent to SES at most, or auto (the account's MaxSendRate). Default: no limit.")
    var maxSendRate: String?

    @Option(name: goStyle("ses-timeout"), help: "Seconds from the end of DATA to the reply: waiting for the send rate, SES attempts and retries.")
    var sesTimeout = 30

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

    @Option(name: goStyle("tls-cert"), help: "PEM certificate (chain allowed) for STARTTLS and --tls-listen; read by the supervisor, so it may be root's only.")
    var tlsCert: String?

    @Option(name: goStyle("tls-key"), help: "PEM private key of --tls-cert.")
    var tlsKey: String?

    @Option(name: goStyle("tls-listen"), help: "Address of an implicit-TLS listener (port 465 style), host:port.")
    var tlsListen: String?

    @Flag(name: goStyle("require-tls"), help: "Refuse MAIL before STARTTLS with 530 5.7.0.")
    var requireTLS = false

    @Option(name: goStyle("auth-users-file"), help: "user:hash[:sender-regex] lines (yescrypt, bcrypt or sha512-crypt hashes) for SMTP AUTH PLAIN and LOGIN; read by the supervisor.")
    var authUsersFile: String?

    @Flag(name: goStyle("require-auth"), help: "Refuse MAIL from unauthenticated sessions with 530 5.7.0.")
    var requireAuth = false

    @Flag(name: goStyle("allow-insecure-auth"), help: "Offer AUTH without TLS (passwords then cross the network in clear).")
    var allowInsecureAuth = false

    @Option(name: goStyle("allow-from"), help: "Client addresses served, CIDR[,CIDR…] (IPv4 and IPv6); others get 554 5.7.1. Default: every client.")
    var allowFrom: String?

    @Option(name: goStyle("allow-sender"), help: "Regular expression a MAIL FROM address must match (searched, anchor with ^…$); others get 550 5.7.1.")
    var allowSender: String?

    @Option(name: goStyle("deny-recipient"), help: "Regular expression of RCPT TO addresses refused with 550 5.7.1.")
    var denyRecipient: String?

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
        guard let api = sesAPIVersion else {
            throw ValidationError("--ses-api \(sesAPI): use v1 or v2")
        }
        for (flag, value) in [("--source-arn", sourceARN), ("--from-arn", fromARN), ("--return-path-arn", returnPathARN)] {
            if let value, !Self.isIdentityARN(value) {
                throw ValidationError("\(flag) \(value): expected an SES identity ARN like arn:aws:ses:us-east-1:123456789012:identity/example.com")
            }
        }
        var names: Set<String> = []
        for tag in tags {
            guard let parsed = SESMessageTag(parsing: Substring(tag)) else {
                throw ValidationError("--tag \(tag): expected NAME=VALUE, each 1 to 256 letters, digits, '_' or '-'")
            }
            guard names.insert(parsed.name).inserted else { throw ValidationError("--tag \(tag): tag \(parsed.name) given twice") }
        }
        switch (tlsCert, tlsKey) {
        case (.some, nil): throw ValidationError("--tls-cert needs --tls-key")
        case (nil, .some): throw ValidationError("--tls-key needs --tls-cert")
        case (nil, nil):
            if tlsListen != nil { throw ValidationError("--tls-listen needs --tls-cert and --tls-key") }
            if requireTLS { throw ValidationError("--require-tls needs --tls-cert and --tls-key") }
        case (.some, .some):
            break
        }
        if authUsersFile == nil {
            if requireAuth { throw ValidationError("--require-auth needs --auth-users-file") }
            if allowInsecureAuth { throw ValidationError("--allow-insecure-auth needs --auth-users-file") }
        } else if tlsCert == nil && !allowInsecureAuth {
            throw ValidationError("--auth-users-file needs --tls-cert and --tls-key (AUTH is offered under TLS only), or --allow-insecure-auth")
        }
        if let tlsListen {
            do {
                _ = try ListenAddress(parsing: tlsListen)
            } catch {
                throw ValidationError("--tls-listen \(tlsListen): \(error)")
            }
        }
        var status = stat()
        guard spoolDir.hasPrefix("/"), stat(spoolDir, &status) == 0, status.st_mode & S_IFMT == S_IFDIR else {
            throw ValidationError("--spool-dir \(spoolDir): not an absolute path to a directory")
        }
        if let allowFrom {
            do {
                _ = try ClientAllowList(parsing: allowFrom)
            } catch {
                throw ValidationError("--allow-from \(allowFrom): \(error)")
            }
        }
        for (flag, pattern) in [("--allow-sender", allowSender), ("--deny-recipient", denyRecipient)] {
            guard let pattern else { continue }
            do {
                _ = try Regex(pattern)
            } catch {
                throw ValidationError("\(flag) \(pattern): not a regular expression: \(error)")
            }
        }
        if let rate = maxSendRate, rate != "auto" {
            guard let value = Double(rate), value.isFinite, value > 0, value <= 1_000_000 else {
                throw ValidationError("--max-send-rate \(rate): recipients per second (a positive number, as SES's MaxSendRate) or auto")
            }
        }
        for (flag, value, range) in [
            ("--max-message-size", effectiveMaxMessageSize, 1024...api.largestMessage),
            ("--idle-timeout", idleTimeout, 1...86_400),
            ("--shutdown-timeout", shutdownTimeout, 1...3600),
            ("--ses-timeout", sesTimeout, 2...600),
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

    /// The file the supervisor opens for the worker as `file`, when configured.
    func path(of file: WorkerFile) -> String? {
        switch file {
        case .tlsCertificate: tlsCert
        case .tlsKey: tlsKey
        case .authUsers: authUsersFile
        }
    }

    /// `arn:PARTITION:ses:REGION:ACCOUNT:identity/NAME` (sending authorization, SES-FACTS §1).
    static func isIdentityARN(_ text: String) -> Bool {
        let parts = text.split(separator: ":", maxSplits: 5, omittingEmptySubsequences: false)
        return parts.count == 6 && parts[0] == "arn" && parts[1].hasPrefix("aws") && parts[2] == "ses"
            && !parts[3].isEmpty && parts[4].count == 12 && parts[4].allSatisfy(\.isNumber)
            && parts[5].hasPrefix("identity/") && parts[5].count > 9 && text.utf8.count <= 2048
            && text.utf8.allSatisfy { $0 > 0x20 && $0 < 0x7F }
    }

    var sesAPIVersion: SESAPIVersion? { SESAPIVersion(rawValue: sesAPI) }

    /// `--max-message-size`, or the API's own limit.
    var effectiveMaxMessageSize: Int { maxMessageSize ?? (sesAPIVersion ?? .v1).largestMessage }

    static func isSessionName(_ text: String) -> Bool {
        (2...64).contains(text.count) && text.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || "+=,.@_-".contains($0)) }
    }

    /// What the worker needs of these options, as its command line.
    var workerArguments: [String] {
        var arguments = [
            "--max-message-size", "\(effectiveMaxMessageSize)", "--idle-timeout", "\(idleTimeout)",
            "--max-connections", "\(maxConnections)", "--max-connections-per-ip", "\(maxConnectionsPerIP)",
            "--shutdown-timeout", "\(shutdownTimeout)", "--spool-dir", spoolDir,
        ]
        arguments += ["--ses-api", sesAPI, "--ses-timeout", "\(sesTimeout)"]
        if let configurationSetName { arguments += ["--configuration-set-name", configurationSetName] }
        if let sourceARN { arguments += ["--source-arn", sourceARN] }
        if let fromARN { arguments += ["--from-arn", fromARN] }
        if let returnPathARN { arguments += ["--return-path-arn", returnPathARN] }
        if !tags.isEmpty {
            // Validated: no blanks, no commas inside a tag.
            arguments += ["--tags", tags.compactMap { SESMessageTag(parsing: Substring($0))?.text }.joined(separator: ",")]
        }
        if let maxSendRate { arguments += ["--max-send-rate", maxSendRate] }
        if tlsCert != nil { arguments += ["--tls", "true"] }
        if tlsListen != nil { arguments += ["--tls-listen", "true"] }
        if requireTLS { arguments += ["--require-tls", "true"] }
        if authUsersFile != nil { arguments += ["--auth", "true"] }
        if requireAuth { arguments += ["--require-auth", "true"] }
        if allowInsecureAuth { arguments += ["--allow-insecure-auth", "true"] }
        if let allowFrom { arguments += ["--allow-from", allowFrom] }
        if let allowSender { arguments += ["--allow-sender", allowSender] }
        if let denyRecipient { arguments += ["--deny-recipient", denyRecipient] }
        if addReceivedHeader { arguments += ["--add-received-header", "true"] }
        return arguments
    }
}

/// The SES APIs a message can go by, and the largest message each takes (the quotas page: 10 MB
/// with v1, 40 MB with v2, after base64 — a raw message over 3/4 of it is refused by SES as too big).
enum SESAPIVersion: String {
    case v1, v2

    var largestMessage: Int {
        switch self {
        case .v1: 10_485_760
        case .v2: 41_943_040
        }
    }
}

private func goStyle(_ name: String) -> NameSpecification {
    [.customLong(name), .customLong(name, withSingleDash: true)]
}
