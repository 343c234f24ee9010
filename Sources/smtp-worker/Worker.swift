import Dispatch
import FoundationEssentials
import HTTPTransport
import Logging
import NIOCore
import NIOPosix
import Shared
import SMTPCore

#if canImport(Glibc)
import Glibc
#endif

/// The worker process: the SMTP server on the listening socket the supervisor bound, relaying to SES
/// with credentials from the agent. Runs as `_ses-smtp` with no capabilities; sees no secret but
/// the derived signing key.
struct Worker {
    static let allowedOptions: Set<String> = [
        "log-level", "hostname", "configuration-set-name", "max-message-size", "idle-timeout", "max-connections",
        "max-connections-per-ip", "add-received-header", "shutdown-timeout", "ses-api", "source-arn", "from-arn",
        "return-path-arn", "tags", "max-send-rate", "ses-timeout", "allow-from", "allow-sender", "deny-recipient",
        "tls", "tls-listen", "require-tls", "auth", "allow-insecure-auth", "require-auth", "spool-dir",
    ]

    let options: ChildOptions
    let logger: Logger

    func run() async throws {
        let environment = ProcessInfo.processInfo.environment
        let group = MultiThreadedEventLoopGroup(numberOfThreads: System.coreCount)
        let threadPool = NIOThreadPool(numberOfThreads: 16)
        threadPool.start()
        let logger = self.logger

        let control = ControlClient(channel: try await connect(ChildDescriptors.Worker.control, group: group) {
            SilentPeerHandler(channelName: "control", logger: logger)
        })
        let agent = AgentConnection(channel: try await connect(ChildDescriptors.Worker.credentials, group: group) {
            AgentClientHandler(timeout: .seconds(5), logger: logger)
        })
        let receiver = NIOThreadPool(numberOfThreads: 1)
        receiver.start()
        receiver.submit { _ in
            DescriptorChannel.receive(on: ChildDescriptors.Worker.descriptors, logger: logger) { socket in
                Self.replaceAgent(agent, socket: socket, group: group, logger: logger)
            }
        }
        let settings = try WorkerSettings(options: options)
        do {
            _ = try settings.spool.open()
        } catch {
            throw WorkerError(description: "--spool-dir \(settings.spoolDirectory): \(error)")
        }
        let provider = CredentialProvider(agent: agent)
        let first = try await provider.credentials(now: Int64(time(nil)), on: agent.eventLoop).get()
        do {
            _ = try AWSEndpoint.ses(api: settings.ses.api, environment: environment, region: first.region)
        } catch .invalid(let variable, let value) {
            throw WorkerError(description: "\(variable)=\(value) is not an http:// or https:// URL")
        }

        var http = HTTPClientConfiguration()
        if let bundle = environment["AWS_CA_BUNDLE"], !bundle.isEmpty { http.extraCABundle = bundle }
        // As many connections as sessions that can wait for SES at once.
        http.keptConnections = settings.maxConnections
        let client = SESClient(http: HTTPClient(configuration: http), environment: environment, settings: settings.ses)
        let limiter = SendRateLimiter(rate: nil)
        switch settings.sendRate {
        case .unlimited:
            break
        case .fixed(let rate):
            limiter.setRate(rate)
        case .auto:
            let quota = SendQuotaReader(client: client, credentials: provider, limiter: limiter, logger: logger)
            try await quota.start(on: group.next())
        }
        let relay = SESRelay(
            client: client, credentials: provider, threadPool: threadPool, control: control, limiter: limiter,
            timeout: .seconds(Int64(settings.sesTimeoutSeconds)), logger: logger)
        let tls = try settings.tls.map { try WorkerTLS.context(from: $0) }
        let authenticator = try settings.auth.available ? Authenticator(users: Self.authUsers(), threadPool: threadPool) : nil
        // Read once: the key and the users file need not stay reachable through a descriptor.
        for file in WorkerFile.allCases { close(file.descriptor) }
        if settings.tls?.implicitListener != true { close(ChildDescriptors.Worker.tlsListener) }
        let sessions = SessionStarter(
            settings: settings, tls: tls, authenticator: authenticator, relay: relay, control: control,
            connections: ConnectionRegistry(maxConnections: settings.maxConnections, maxPerPeer: settings.maxConnectionsPerPeer),
            logger: logger)
        var servers = [
            try await ServerBootstrap(group: group)
                .serverChannelOption(ChannelOptions.backlog, value: 511)
                .childChannelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture { try sessions.start(on: channel, implicitTLS: false) }
                }
                .withBoundSocket(ChildDescriptors.Worker.smtpListener)
                .get()
        ]
        if settings.tls?.implicitListener == true {
            servers.append(
                try await ServerBootstrap(group: group)
                    .serverChannelOption(ChannelOptions.backlog, value: 511)
                    .childChannelInitializer { channel in
                        channel.eventLoop.makeCompletedFuture { try sessions.start(on: channel, implicitTLS: true) }
                    }
                    .withBoundSocket(ChildDescriptors.Worker.tlsListener)
                    .get())
        }
        control.send(.ready)
        logger.notice(
            "serving SMTP",
            metadata: [
                "region": "\(first.region)", "ses_api": "\(settings.ses.api.rawValue)",
                "tls": "\(settings.tls.map { $0.implicitListener ? "starttls+implicit" : "starttls" } ?? "off")",
            ])

        let reason = await Self.stopReason(control: control.channel)
        logger.notice("draining", metadata: ["reason": "\(reason)"])
        for server in servers { try? await server.close() }
        // The supervisor kills a worker 5 s after the shutdown timeout; the grace stays under that.
        try? await sessions.connections.drain(on: group.next(), deadline: .seconds(Int64(settings.shutdownSeconds)), grace: .seconds(3)).get()
        try? await control.flush().get()
        try? await threadPool.shutdownGracefully()
        try? await group.shutdownGracefully()
    }

    /// The users file the supervisor opened (`WorkerFile.authUsers`).
    private static func authUsers() throws(WorkerError) -> AuthUsers {
        do {
            return try AuthUsers(parsing: DescriptorFile.readAll(WorkerFile.authUsers.descriptor, limit: WorkerFile.maxBytes))
        } catch let problem as AuthUsers.Problem {
            throw WorkerError(description: "--auth-users-file: \(problem)")
        } catch {
            throw WorkerError(description: "--auth-users-file: cannot read the file the supervisor opened: \(error)")
        }
    }

    /// SIGTERM from the supervisor, or the supervisor gone (its control channel closed).
    private static func stopReason(control: Channel) async -> String {
        let (stream, continuation) = AsyncStream.makeStream(of: String.self)
        signal(SIGTERM, SIG_IGN)
        let source = DispatchSource.makeSignalSource(signal: SIGTERM)
        source.setEventHandler { continuation.yield("SIGTERM") }
        source.resume()
        control.closeFuture.whenComplete { _ in continuation.yield("supervisor gone") }
        for await reason in stream { return reason }
        return "stream ended"
    }

    /// Runs on the receiver thread, which may block on the bootstrap.
    private static func replaceAgent(_ agent: AgentConnection, socket: Int32, group: EventLoopGroup, logger: Logger) {
        do {
            let channel = try ClientBootstrap(group: group)
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addIPCHandlers(AgentClientHandler(timeout: .seconds(5), logger: logger))
                    }
                }
                .withConnectedSocket(socket)
                .wait()
            agent.replace(with: channel)
            logger.notice("credentials channel replaced (the agent restarted)")
        } catch {
            close(socket)
            logger.error("cannot use the new credentials channel", metadata: ["error": "\(error)"])
        }
    }

    private func connect(
        _ descriptor: Int32,
        group: EventLoopGroup,
        handler: @escaping @Sendable () -> some ChannelHandler
    ) async throws -> Channel {
        try await ClientBootstrap(group: group)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addIPCHandlers(handler()) }
            }
            .withConnectedSocket(descriptor)
            .get()
    }
}

struct WorkerError: Error, CustomStringConvertible {
    var description: String
}

/// The worker's SMTP settings from its command line, which the supervisor already validated; a bad
/// value here is a bug, reported as such.
struct WorkerSettings {
    var limits = SMTPLimits()
    var hostname: String
    var maxConnections = 1000
    var maxConnectionsPerPeer = 100
    /// How long in-flight transactions get to finish when the worker is told to stop.
    var shutdownSeconds = 30
    var trace: ReceivedHeader?
    var ses = SESSendSettings()
    var sendRate = SendRate.unlimited
    var sesTimeoutSeconds = 30
    var policy = SMTPPolicy()
    /// `--allow-from`; nil: every client.
    var allowList: ClientAllowList?
    /// `--tls-cert`/`--tls-key` given; nil: no TLS.
    var tls: TLSSettings?
    var requireTLS = false
    var auth = AuthOffer()
    /// `--spool-dir`: where messages over 256 KiB continue, in unnamed files.
    var spoolDirectory = "/var/tmp"
    var spool: MessageSpool { MessageSpool.unnamedFiles(in: spoolDirectory) }

    enum SendRate: Equatable {
        case unlimited
        case fixed(Double)
        /// From the account's quota, read at start and every 10 minutes.
        case auto
    }

    init(options: ChildOptions) throws(WorkerError) {
        hostname = options["hostname"] ?? "localhost"
        if let size = try Self.number(options, "max-message-size") { limits.maxMessageSize = size }
        if let seconds = try Self.number(options, "idle-timeout") { limits.idleTimeoutSeconds = Int64(seconds) }
        if let count = try Self.number(options, "max-connections") { maxConnections = count }
        if let count = try Self.number(options, "max-connections-per-ip") { maxConnectionsPerPeer = count }
        if let seconds = try Self.number(options, "shutdown-timeout") { shutdownSeconds = seconds }
        if let seconds = try Self.number(options, "ses-timeout") { sesTimeoutSeconds = seconds }
        if let directory = options["spool-dir"] { spoolDirectory = directory }
        if options["add-received-header"] == "true" {
            trace = ReceivedHeader(hostname: hostname)
            // The header is part of what SES receives and counts against the same limit.
            limits.maxMessageSize = max(0, limits.maxMessageSize - ReceivedHeader.reservedOctets)
        }
        if let api = options["ses-api"] {
            guard let parsed = SESSendSettings.API(rawValue: api) else { throw WorkerError(description: "--ses-api \(api): not v1 or v2") }
            ses.api = parsed
        }
        ses.configurationSetName = options["configuration-set-name"]
        ses.sourceARN = options["source-arn"]
        ses.fromARN = options["from-arn"]
        ses.returnPathARN = options["return-path-arn"]
        if let tags = options["tags"] {
            guard let parsed = SESMessageTag.parseList(tags) else { throw WorkerError(description: "--tags \(tags): not name=value,…") }
            ses.tags = parsed
        }
        if options["tls"] == "true" {
            tls = TLSSettings(implicitListener: options["tls-listen"] == "true")
        }
        requireTLS = options["require-tls"] == "true"
        auth = AuthOffer(
            available: options["auth"] == "true", allowInsecure: options["allow-insecure-auth"] == "true",
            required: options["require-auth"] == "true")
        if let text = options["allow-from"] {
            do {
                allowList = try ClientAllowList(parsing: text)
            } catch {
                throw WorkerError(description: "--allow-from \(text): \(error)")
            }
        }
        for (name, keyPath) in [("allow-sender", \SMTPPolicy.allowedSenders), ("deny-recipient", \SMTPPolicy.deniedRecipients)] {
            guard let source = options[name] else { continue }
            do {
                policy[keyPath: keyPath] = try AddressPattern(source)
            } catch {
                throw WorkerError(description: "--\(name) \(source): not a regular expression: \(error)")
            }
        }
        switch options["max-send-rate"] {
        case nil: break
        case "auto": sendRate = .auto
        case let text?:
            guard let rate = Double(text), rate > 0, rate.isFinite else { throw WorkerError(description: "--max-send-rate \(text): not a positive number") }
            sendRate = .fixed(rate)
        }
    }

    private static func number(_ options: ChildOptions, _ name: String) throws(WorkerError) -> Int? {
        guard let text = options[name] else { return nil }
        guard let value = Int(text, radix: 10), value > 0 else { throw WorkerError(description: "--\(name) \(text): not a positive number") }
        return value
    }
}
