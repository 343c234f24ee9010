import Logging
import NIOCore
import NIOSSL
import SMTPCore

/// Sets up each accepted connection: the allow-list and the connection limits first (a refused
/// client gets one reply and is closed), then TLS for the implicit-TLS listener, the idle timer and
/// the SMTP session.
struct SessionStarter: Sendable {
    let settings: WorkerSettings
    let tls: NIOSSLContext?
    let authenticator: Authenticator?
    let relay: SESRelay
    let control: ControlClient
    let connections: ConnectionRegistry
    let logger: Logger
    /// Made once: the closure that opens spool files.
    private let spool: MessageSpool

    init(
        settings: WorkerSettings, tls: NIOSSLContext?, authenticator: Authenticator?, relay: SESRelay,
        control: ControlClient, connections: ConnectionRegistry, logger: Logger
    ) {
        self.settings = settings
        self.tls = tls
        self.authenticator = authenticator
        self.relay = relay
        self.control = control
        self.connections = connections
        self.logger = logger
        self.spool = settings.spool
    }

    private static let clientRefusal = SMTPReply.clientNotAllowed.wireText
    private static let busyRefusal = SMTPReply.tooManyConnections.wireText

    func start(on channel: Channel, implicitTLS: Bool) throws {
        let pipeline = channel.pipeline.syncOperations
        if implicitTLS, let tls {
            try pipeline.addHandler(NIOSSLServerHandler(context: tls))
        }
        if let allowList = settings.allowList, !allowList.allows(channel.remoteAddress) {
            control.count(.policyRefusal(.client))
            try pipeline.addHandler(RefusingHandler(reply: Self.clientRefusal))
            return
        }
        guard connections.admit(channel) else {
            try pipeline.addHandler(RefusingHandler(reply: Self.busyRefusal))
            return
        }
        try pipeline.addHandler(IdleStateHandler(readTimeout: .seconds(settings.limits.idleTimeoutSeconds)))
        let offer = TLSOffer(startTLS: tls != nil && !implicitTLS, required: settings.requireTLS, implicit: implicitTLS)
        try pipeline.addHandler(
            SMTPServerHandler(
                limits: settings.limits, hostname: settings.hostname, policy: settings.policy, tls: offer, tlsContext: tls,
                auth: settings.auth, authenticator: authenticator, relay: relay, control: control, trace: settings.trace,
                spool: spool, logger: logger))
    }
}
