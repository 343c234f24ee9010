import CShim
import Dispatch
import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import Shared

#if canImport(Glibc)
import Glibc
#endif

/// The supervisor process: binds every listening socket, starts the agent and then the worker under
/// their own users, restarts them after a failure with backoff, serves /health and /metrics, and
/// turns SIGTERM into a drain. It never parses SMTP and never sees an AWS secret.
final class Supervisor {
    struct StartupError: Error, CustomStringConvertible {
        var description: String
    }

    private struct RunningChild {
        var pid: pid_t
        var generation: Int
    }

    private enum Outcome {
        case stopRequested
        case childFailed(ChildRole, status: Int32, servedBefore: Bool)
    }

    static let stopDeadline = TimeAmount.seconds(30)

    private let options: SupervisorOptions
    private let environment: [String: String]
    private let logger: Logger
    private let health = HealthState()
    private let metrics = MetricsRegistry()
    private let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
    private let reaper = NIOThreadPool(numberOfThreads: 2)
    /// Children are forked from this one long-lived thread: PR_SET_PDEATHSIG fires when the *thread*
    /// that forked exits, and the async runtime's threads come and go.
    private let spawner = NIOThreadPool(numberOfThreads: 1)
    private let events: AsyncStream<SupervisorEvent>
    private let continuation: AsyncStream<SupervisorEvent>.Continuation
    private var children: [ChildRole: RunningChild] = [:]
    private var signalSources: [DispatchSourceSignal] = []

    init(options: SupervisorOptions, environment: [String: String], logger: Logger) {
        self.options = options
        self.environment = environment
        self.logger = logger
        (events, continuation) = AsyncStream.makeStream(of: SupervisorEvent.self)
        reaper.start()
        spawner.start()
    }

    /// Returns the exit status.
    func run() async throws -> Int32 {
        let identities = try ChildIdentities.resolve(options: options, logger: logger)
        let paths = try ChildRole.allCases.reduce(into: [ChildRole: String]()) { paths, role in
            guard let path = ChildSpawner.executablePath(role) else {
                throw StartupError(description: "cannot find \(role.rawValue) next to this program or in /usr/libexec/ses-smtpd-proxy")
            }
            paths[role] = path
        }
        let listener = try bindSMTP()
        try await bindHTTP()
        installSignalHandlers()

        var iterator = events.makeAsyncIterator()
        var backoff = RestartBackoff()
        var generation = 0
        var everServed = false
        while true {
            generation += 1
            let started = ContinuousClock.now
            let outcome = await runGeneration(
                generation, listener: listener, paths: paths, identities: identities, iterator: &iterator)
            health.workerServing(false)
            switch outcome {
            case .stopRequested:
                await stopChildren(iterator: &iterator)
                logger.notice("stopped")
                return 0
            case .childFailed(let role, let status, let servedBefore):
                everServed = everServed || servedBefore
                await stopChildren(iterator: &iterator)
                guard everServed else {
                    logger.critical("\(role.rawValue) failed before the relay could start (\(Self.describe(status: status))); see its message above")
                    return 1
                }
                let delay = backoff.delay(afterRunOf: ContinuousClock.now - started)
                logger.error("child failed, restarting", metadata: ["child": "\(role.rawValue)", "status": "\(Self.describe(status: status))", "delay": "\(delay)"])
                if await wait(delay, generation: generation, iterator: &iterator) == .stopRequested {
                    logger.notice("stopped")
                    return 0
                }
            }
        }
    }

    private enum WaitResult { case elapsed, stopRequested }

    private func wait(
        _ delay: Duration,
        generation: Int,
        iterator: inout AsyncStream<SupervisorEvent>.Iterator
    ) async -> WaitResult {
        let continuation = self.continuation
        let milliseconds = Int64(delay.components.seconds * 1000 + delay.components.attoseconds / 1_000_000_000_000_000)
        group.next().scheduleTask(in: .milliseconds(milliseconds)) { continuation.yield(.timer(generation: generation)) }
        while let event = await iterator.next() {
            switch event {
            case .timer(let id) where id == generation: return .elapsed
            case .signal(let number) where number == SIGTERM || number == SIGINT: return .stopRequested
            default: continue
            }
        }
        return .stopRequested
    }

    private func runGeneration(
        _ generation: Int,
        listener: Int32,
        paths: [ChildRole: String],
        identities: ChildIdentities,
        iterator: inout AsyncStream<SupervisorEvent>.Iterator
    ) async -> Outcome {
        var served = false
        var credentialPair: [Int32] = [-1, -1]
        guard shim_socketpair_stream(&credentialPair) == 0 else {
            logger.error("socketpair failed: \(String(cString: strerror(errno)))")
            return .childFailed(.agent, status: -1, servedBefore: false)
        }
        defer { credentialPair.forEach { if $0 >= 0 { close($0) } } }
        do {
            let sharedFiles = try SharedFiles.open(environment: environment)
            defer { sharedFiles.close() }
            try await start(
                .agent, generation: generation, path: paths[.agent] ?? "",
                arguments: ["--log-level", options.logLevel, "--credentials-path", sharedFiles.credentialsPath, "--config-path", sharedFiles.configPath],
                allowedEnvironment: ChildEnvironment.agent,
                descriptors: [credentialPair[0], sharedFiles.credentials, sharedFiles.config],
                identity: identities.agent)
        } catch {
            logger.error("cannot start \(ChildRole.agent.rawValue): \(error)")
            return .childFailed(.agent, status: -1, servedBefore: false)
        }
        close(credentialPair[0])
        credentialPair[0] = -1

        while let event = await iterator.next() {
            switch event {
            case .ready(.agent, generation):
                let arguments = ["--log-level", options.logLevel, "--hostname", options.hostname ?? Self.hostName()]
                    + options.workerArguments
                do {
                    try await start(
                        .worker, generation: generation, path: paths[.worker] ?? "", arguments: arguments,
                        allowedEnvironment: ChildEnvironment.worker, descriptors: [listener, credentialPair[1]],
                        identity: identities.worker)
                } catch {
                    logger.error("cannot start \(ChildRole.worker.rawValue): \(error)")
                    return .childFailed(.worker, status: -1, servedBefore: served)
                }
                close(credentialPair[1])
                credentialPair[1] = -1
            case .ready(.worker, generation):
                served = true
                health.workerServing(true)
                logger.notice("relay ready", metadata: ["generation": "\(generation)"])
                if let socket = environment["NOTIFY_SOCKET"] { _ = shim_sd_notify(socket, "READY=1") }
            case .exited(let role, generation, let status):
                children[role] = nil
                if role == .agent { health.credentials(held: false, expiration: nil) }
                return .childFailed(role, status: status, servedBefore: served)
            case .signal(let number) where number == SIGTERM || number == SIGINT:
                logger.notice("stopping on signal \(number)")
                if let socket = environment["NOTIFY_SOCKET"] { _ = shim_sd_notify(socket, "STOPPING=1") }
                return .stopRequested
            case .signal(SIGHUP):
                logger.notice("SIGHUP: reloading is not supported yet; ignored")
            default:
                continue
            }
        }
        return .stopRequested
    }

    /// Spawns a child with `descriptors` after its control socket (agent: fd 3 control, 4 credentials,
    /// 5–6 shared files; worker: fd 3 listener, 4 control, 5 credentials), and watches it.
    private func start(
        _ role: ChildRole,
        generation: Int,
        path: String,
        arguments: [String],
        allowedEnvironment: Set<String>,
        descriptors: [Int32],
        identity: ChildIdentity
    ) async throws {
        var control: [Int32] = [-1, -1]
        guard shim_socketpair_stream(&control) == 0 else { throw SpawnError(description: "socketpair failed") }
        defer { close(control[1]) }
        var ordered = descriptors
        ordered.insert(control[1], at: role == .agent ? 0 : 1)
        let placed = ordered
        let pid: pid_t
        let childEnvironment = ChildEnvironment.filter(environment, allowed: allowedEnvironment)
        do {
            pid = try await spawner.runIfActive {
                try ChildSpawner.spawn(
                    path: path, arguments: arguments, environment: childEnvironment, descriptors: placed, identity: identity)
            }
        } catch {
            close(control[0])
            throw error
        }
        children[role] = RunningChild(pid: pid, generation: generation)
        logger.notice("started", metadata: ["child": "\(role.rawValue)", "pid": "\(pid)", "uid": "\(identity.uid)"])
        let (health, metrics, continuation, logger, reaper) = (self.health, self.metrics, self.continuation, self.logger, self.reaper)
        let channel = try await ClientBootstrap(group: group)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addIPCHandlers(
                        ChildControlHandler(
                            role: role, pid: pid, generation: generation, health: health, metrics: metrics,
                            events: continuation, logger: logger))
                }
            }
            .withConnectedSocket(control[0])
            .get()
        channel.closeFuture.whenComplete { _ in
            // The child closed its end: it is exiting. Reap it off the event loop.
            reaper.submit { _ in
                var status: Int32 = 0
                while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
                continuation.yield(.exited(role, generation: generation, status: status))
            }
        }
    }

    /// SIGTERM to the worker (it drains), then to the agent; SIGKILL whatever is left after the deadline.
    private func stopChildren(iterator: inout AsyncStream<SupervisorEvent>.Iterator) async {
        for role in [ChildRole.worker, .agent] {
            guard let child = children[role] else { continue }
            kill(child.pid, SIGTERM)
            let continuation = self.continuation
            let deadline = group.next().scheduleTask(in: Self.stopDeadline) {
                continuation.yield(.timer(generation: -child.generation))
            }
            while children[role] != nil, let event = await iterator.next() {
                switch event {
                case .exited(let exitedRole, let generation, _) where generation == child.generation:
                    children[exitedRole] = nil
                case .timer(let id) where id == -child.generation:
                    logger.error("child did not stop in time, killing it", metadata: ["child": "\(role.rawValue)"])
                    kill(child.pid, SIGKILL)
                default:
                    continue
                }
            }
            deadline.cancel()
        }
    }

    private func bindSMTP() throws -> Int32 {
        let address = try ListenAddress(parsing: options.listenAddress)
        let fd = shim_listen_tcp(address.host, String(address.port), 511)
        guard fd >= 0 else {
            throw StartupError(description: "cannot listen on \(options.listenAddress): \(String(cString: strerror(-fd)))")
        }
        logger.notice("accepting SMTP", metadata: ["address": "\(ListenAddress(host: address.host, port: Int(shim_local_port(fd))))"])
        return fd
    }

    private func bindHTTP() async throws {
        var listeners: [(flag: String, address: String, routes: HTTPEndpointHandler.Routes)] = []
        if options.enableHealthCheck {
            listeners.append(("--health-check-bind", options.healthCheckBind, .init(health: health)))
        }
        if options.enablePrometheus {
            if let index = listeners.firstIndex(where: { $0.address == options.prometheusBind }) {
                listeners[index].routes.metrics = metrics
            } else {
                listeners.append(("--prometheus-bind", options.prometheusBind, .init(metrics: metrics)))
            }
        }
        for listener in listeners {
            let address = try ListenAddress(parsing: listener.address)
            let routes = listener.routes
            let bootstrap = ServerBootstrap(group: group)
                .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
                .childChannelInitializer { channel in
                    channel.pipeline.configureHTTPServerPipeline().flatMapThrowing {
                        try channel.pipeline.syncOperations.addHandler(HTTPEndpointHandler(routes: routes))
                    }
                }
            do {
                if address.host.isEmpty {
                    _ = try await bootstrap.bind(host: "::", port: address.port).flatMapError { _ in
                        bootstrap.bind(host: "0.0.0.0", port: address.port)
                    }.get()
                } else {
                    _ = try await bootstrap.bind(host: address.host, port: address.port).get()
                }
            } catch {
                throw StartupError(description: "\(listener.flag) \(listener.address): cannot listen: \(error)")
            }
            logger.notice("serving HTTP", metadata: ["address": "\(listener.address)"])
        }
    }

    private func installSignalHandlers() {
        let continuation = self.continuation
        for number in [SIGTERM, SIGINT, SIGHUP] {
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number)
            source.setEventHandler { continuation.yield(.signal(number)) }
            source.resume()
            signalSources.append(source)
        }
    }

    /// A waitpid status as words: "exit code 78", "signal 9".
    static func describe(status: Int32) -> String {
        if status < 0 { return "not started" }
        let signal = status & 0x7f
        return signal == 0 ? "exit code \((status >> 8) & 0xff)" : "signal \(signal)"
    }

    static func hostName() -> String {
        var buffer = [CChar](repeating: 0, count: 256)
        guard gethostname(&buffer, buffer.count - 1) == 0 else { return "localhost" }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
