import Prometheus
import Shared

/// The supervisor's Prometheus registry with the Go original's metric names. Children send counter
/// deltas over IPC; totals live here and survive child restarts.
final class MetricsRegistry: Sendable {
    let registry = PrometheusCollectorRegistry()
    private let sendSuccess: Counter
    private let sesError: Counter
    private let renewalSuccess: Counter
    private let renewalError: Counter
    private let sesRetry: Counter
    private let tlsSessions: Counter
    private let authSuccess: Counter
    private let authFailure: Counter
    private let sendFailure: [SendFailureType: Counter]
    private let policyRefusal: [PolicyRefusalReason: Counter]

    init() {
        sendSuccess = registry.makeCounter(name: "smtpd_email_send_success_total", help: "Messages SES accepted")
        sesError = registry.makeCounter(name: "smtpd_ses_error_total", help: "Error answers from SES")
        renewalSuccess = registry.makeCounter(
            name: "smtpd_credential_renewal_success_total", help: "Credentials obtained or renewed")
        renewalError = registry.makeCounter(
            name: "smtpd_credential_renewal_error_total", help: "Failed credential fetches or renewals")
        sesRetry = registry.makeCounter(
            name: "smtpd_ses_retry_total", help: "SES requests made again after a failure SES did not act on")
        tlsSessions = registry.makeCounter(name: "smtpd_tls_sessions_total", help: "SMTP sessions that completed a TLS handshake")
        authSuccess = registry.makeCounter(name: "smtpd_auth_total", labels: [("result", "success")], help: "SMTP AUTH attempts")
        authFailure = registry.makeCounter(name: "smtpd_auth_total", labels: [("result", "failure")], help: "SMTP AUTH attempts")
        var failures: [SendFailureType: Counter] = [:]
        for type in SendFailureType.allCases {
            failures[type] = registry.makeCounter(
                name: "smtpd_email_send_fail_total", labels: [("type", type.label)], help: "Messages not relayed")
        }
        sendFailure = failures
        var refusals: [PolicyRefusalReason: Counter] = [:]
        for reason in PolicyRefusalReason.allCases {
            refusals[reason] = registry.makeCounter(
                name: "smtpd_policy_refusal_total", labels: [("reason", reason.label)],
                help: "Clients, senders and recipients refused by --allow-from, --allow-sender, --deny-recipient")
        }
        policyRefusal = refusals
    }

    func record(_ event: MetricEvent, delta: UInt32) {
        let amount = Int64(delta)
        switch event {
        case .sendSuccess: sendSuccess.increment(by: amount)
        case .sendFailure(let type): sendFailure[type]?.increment(by: amount)
        case .sesError: sesError.increment(by: amount)
        case .credentialRenewalSuccess: renewalSuccess.increment(by: amount)
        case .credentialRenewalError: renewalError.increment(by: amount)
        case .sesRetry: sesRetry.increment(by: amount)
        case .policyRefusal(let reason): policyRefusal[reason]?.increment(by: amount)
        case .tlsSession: tlsSessions.increment(by: amount)
        case .auth(let succeeded): (succeeded ? authSuccess : authFailure).increment(by: amount)
        }
    }

    func exposition() -> [UInt8] {
        var buffer: [UInt8] = []
        registry.emit(into: &buffer)
        return buffer
    }
}
