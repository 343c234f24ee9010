import NIOCore
import Shared
import SMTPCore

#if canImport(Glibc)
import Glibc
#endif

/// The RFC 5321 §4.4 trace header prepended with `--add-received-header` (off by default, so that
/// messages stay byte-exact as with the original). Names a recipient only when there is one, so a
/// Bcc recipient never shows in what the others receive.
struct ReceivedHeader: Sendable {
    /// What the header adds at most; the worker keeps this much of the size limit free for it.
    static let reservedOctets = 512

    let hostname: String

    /// RFC 3848: ESMTP, with S for TLS and A for an authenticated client.
    static func protocolName(ehlo: Bool, tls: Bool, authenticated: Bool) -> String {
        guard ehlo else { return "SMTP" }
        return "ESMTP" + (tls ? "S" : "") + (authenticated ? "A" : "")
    }

    func text(
        clientName: String?,
        protocolName: String,
        peer: SocketAddress?,
        envelope: Envelope,
        sessionID: String,
        now: Int64
    ) -> String {
        let from = Self.printable(clientName ?? "unknown", limit: 128)
        let address = peer?.ipAddress.map { $0.contains(":") ? "[IPv6:\($0)]" : "[\($0)]" } ?? "[unknown]"
        let recipient = envelope.recipients.count == 1 ? "\r\n\tfor <\(Self.printable(envelope.recipients[0], limit: 256))>" : ""
        return "Received: from \(from) (\(address))\r\n\tby \(Self.printable(hostname, limit: 128)) (ses-smtpd-proxy)"
            + " with \(protocolName) id \(sessionID)\(recipient);\r\n\t\(UTCTime(epochSeconds: now).rfc5322)\r\n"
    }

    /// The header for this message; the relay sends it in front of the message, which is not copied.
    func header(connection: SMTPConnection, envelope: Envelope, peer: SocketAddress?, sessionID: String) -> String {
        let name = Self.protocolName(ehlo: connection.saidEHLO, tls: connection.isTLS, authenticated: connection.authenticatedUser != nil)
        return text(
            clientName: connection.clientName, protocolName: name, peer: peer, envelope: envelope,
            sessionID: sessionID, now: Int64(time(nil)))
    }

    /// Client-supplied names reach other people's mail: printable ASCII only, bounded.
    static func printable(_ text: String, limit: Int) -> String {
        String(decoding: text.utf8.prefix(limit).map { (0x21...0x7E).contains($0) ? $0 : UInt8(ascii: "?") }, as: UTF8.self)
    }
}
