import CredentialDocuments
import Dispatch
import FoundationEssentials
import HTTPTransport
import Logging
import NIOCore
import NIOPosix
import Shared

#if canImport(Glibc)
import Glibc
#endif

/// The credential agent process: resolves where AWS credentials come from, obtains them, hands the
/// workers derived signing keys, and refreshes the credentials before they expire. Runs as
/// `_ses-cred`, non-dumpable; accepts no connections: its only peers are the socketpairs the
/// supervisor gave it.
struct Agent {
    static let allowedOptions: Set<String> = Set(AgentFile.allCases.map(\.pathOption)).union([
        "log-level", "cross-account-role", "cross-account-session-name", "cross-account-external-id", "vault-path",
    ])

    let options: ChildOptions
    let logger: Logger

    func run() async throws {
        let environment = ProcessInfo.processInfo.environment
        let sources = CredentialSources(
            environment: environment,
            credentialsFile: try Self.sharedFile(.sharedCredentials, options: options),
            credentialsPath: options[AgentFile.sharedCredentials.pathOption] ?? "~/.aws/credentials",
            configFile: try Self.sharedFile(.sharedConfig, options: options),
            configPath: options[AgentFile.sharedConfig.pathOption] ?? "~/.aws/config",
            webIdentityTokenFile: TokenFile.passed(.webIdentityToken, options: options),
            containerTokenFile: TokenFile.passed(.containerAuthorizationToken, options: options)
        )
        let region = try CredentialChain.region(sources)
        var source: CredentialSource
        if let vaultPath = options["vault-path"] {
            source = .vault(try Self.vaultSession(path: vaultPath, environment: environment, options: options, logger: logger))
        } else {
            source = try CredentialChain.resolve(sources)
        }
        if let role = options["cross-account-role"] {
            source = .assumeRole(
                roleArn: role, sessionName: options["cross-account-session-name"] ?? sources.roleSessionName,
                externalID: options["cross-account-external-id"], base: source)
        }
        var httpSettings = HTTPClientConfiguration()
        if let bundle = environment["AWS_CA_BUNDLE"], !bundle.isEmpty { httpSettings.extraCABundle = bundle }
        let sts = STSClient(http: HTTPClient(configuration: httpSettings), environment: environment, region: region)
        let pool = NIOThreadPool(numberOfThreads: 1)
        pool.start()
        let first = try await pool.runIfActive { [source] in try source.fetch(sts: sts, now: Int64(time(nil))) }
        logger.notice(
            "credentials loaded",
            metadata: ["source": "\(source)", "identity": "\(first.source)", "region": "\(region)",
                       "expiration": "\(first.expiration.map(String.init) ?? "none")"])
        let store = CredentialStore(first, region: region)

        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let logger = self.logger
        let control = try await ClientBootstrap(group: group)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addIPCHandlers(SilentPeerHandler(channelName: "control", logger: logger))
                }
            }
            .withConnectedSocket(ChildDescriptors.Agent.control)
            .get()
        // One credentials channel per worker, each handed over by the supervisor: a restarted or reloaded
        // worker gets a fresh one while this agent, and what it holds, stays.
        let receiver = NIOThreadPool(numberOfThreads: 1)
        receiver.start()
        receiver.submit { _ in
            DescriptorChannel.receive(on: ChildDescriptors.Agent.descriptors, logger: logger) { socket in
                Self.serve(socket, group: group, store: store, logger: logger)
            }
        }

        for message: ControlMessage in [
            .credentialStatus(expiration: first.expiration), .metric(.credentialRenewalSuccess, delta: 1), .ready,
        ] {
            control.writeAndFlush(message.frame, promise: nil)
        }

        let refresher = CredentialRefresher(source: source, sts: sts, store: store, pool: pool, control: control, logger: logger)
        let reason = await withTaskGroup(of: String?.self) { tasks in
            tasks.addTask {
                await refresher.run()
                return nil
            }
            tasks.addTask { await Self.stopReason(control: control) }
            var reason = "stream ended"
            for await finished in tasks {
                if let finished {
                    reason = finished
                    break
                }
            }
            tasks.cancelAll()
            return reason
        }
        logger.notice("stopping", metadata: ["reason": "\(reason)"])
        try? await group.shutdownGracefully()
    }

    /// Runs on the receiver thread, which may block on the bootstrap.
    private static func serve(_ socket: Int32, group: EventLoopGroup, store: CredentialStore, logger: Logger) {
        do {
            _ = try ClientBootstrap(group: group)
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addIPCHandlers(CredentialServerHandler(store: store, logger: logger))
                    }
                }
                .withConnectedSocket(socket)
                .wait()
            logger.debug("serving a worker's credentials channel")
        } catch {
            close(socket)
            logger.error("cannot serve a credentials channel", metadata: ["error": "\(error)"])
        }
    }

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

    private static func vaultSession(
        path: String, environment: [String: String], options: ChildOptions, logger: Logger
    ) throws(AgentError) -> VaultSession {
        let settings = try VaultSettings(
            environment: environment, secretPath: path,
            secretIDFile: TokenFile.passed(.vaultSecretID, options: options), jwtFile: TokenFile.passed(.vaultJWT, options: options))
        var httpSettings = HTTPClientConfiguration()
        httpSettings.extraCABundle = settings.caCertificate
        httpSettings.verifyPeer = !settings.skipVerify
        if settings.skipVerify { logger.warning("VAULT_SKIP_VERIFY is set: Vault's TLS certificate is not checked") }
        return VaultSession(client: VaultClient(http: HTTPClient(configuration: httpSettings), settings: settings), logger: logger)
    }

    /// A shared AWS file the supervisor opened for us (/dev/null stands for a missing one).
    private static func sharedFile(_ file: AgentFile, options: ChildOptions) throws(AgentError) -> SharedConfigFile {
        guard let passed = TokenFile.passed(file, options: options) else { return SharedConfigFile() }
        return SharedConfigFile(parsing: String(decoding: try passed.bytes(purpose: "AWS shared file"), as: UTF8.self))
    }
}
