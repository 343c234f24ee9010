import CShim
import Dispatch
import Logging
import NIOCore
import NIOPosix
import Shared

#if canImport(Glibc)
import Glibc
#endif

/// The supervisor process: binds every listening socket, starts the agent and then the worker under
/// their own users, restarts each child on its own after a failure (the other keeps running: a worker
/// keeps sending with the credentials it holds while a new agent starts), reloads the worker on
/// SIGHUP, drains on SIGTERM, and serves /health and /metrics. It never parses SMTP and never sees an
/// AWS secret: it only connects the agent and the workers with socketpairs.
final class Supervisor {
    struct StartupError: Error, CustomStringConvertible {
        var description: String
    }

    private enum TimerAction {
        case restart(ChildRole)
        case killIfRunning(id: Int)
    }

    /// What the agent needs to stop after the workers: it holds no mail.
    static let agentStopDeadline = TimeAmount.seconds(5)

    private let options: SupervisorOptions
    private let environment: [String: String]
    private let logger: Logger
    private let health = HealthState()
    private let metrics = MetricsRegistry()
    private let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
    private let reaper = NIOThreadPool(numberOfThreads: 2)
    private let spawner = NIOThreadPool(numberOfThreads: 1)
    private let events: AsyncStream<SupervisorEvent>
    private let continuation: AsyncStream<SupervisorEvent>.Continuation
    private let notifier: SystemdNotifier
    private var signalSources: [DispatchSourceSignal] = []

    private var identities = ChildIdentities(agent: .inherit, worker: .inherit)
    private var paths: [ChildRole: String] = [:]
    private var listener: Int32 = -1
    private var tlsListener: Int32 = -1
    private var agent: RunningChild?
    private var workers: [RunningChild] = []
    private var nextID = 0
    private var backoff: [ChildRole: RestartBackoff] = [.agent: RestartBackoff(), .worker: RestartBackoff()]
    private var timers: [Int: TimerAction] = [:]
    private var everReady: Set<ChildRole> = []
    private var stopping = false

    init(options: SupervisorOptions, environment: [String: String], logger: Logger) {
        self.options = options
        self.environment = environment
        self.logger = logger
        self.notifier = SystemdNotifier(environment: environment)
        (events, continuation) = AsyncStream.makeStream(of: SupervisorEvent.self)
        reaper.start()
        spawner.start()
    }

    private var launcher: ChildLauncher {
        ChildLauncher(
            group: group, spawner: spawner, reaper: reaper, health: health, metrics: metrics, events: continuation,
            logger: logger)
    }

    /// Returns the exit status.
    func run() async throws -> Int32 {
        identities = try ChildIdentities.resolve(options: options, logger: logger)
        for role in ChildRole.allCases {
            guard let path = ChildSpawner.executablePath(role) else {
                throw StartupError(description: "cannot find \(role.rawValue) next to this program or in /usr/libexec/ses-smtpd-proxy")
            }
            paths[role] = path
        }
        listener = try Listeners.smtp(options: options, environment: environment, logger: logger)
        tlsListener = try Listeners.implicitTLS(options: options, logger: logger)
        // A missing certificate is a start-up error, not a worker that fails again and again.
        try WorkerFiles.open(options: options).close()
        try await Listeners.http(options: options, health: health, metrics: metrics, group: group, logger: logger)
        installSignalHandlers()
        notifier.startWatchdog(on: group.next())

        guard await startAgent() else { return 1 }
        for await event in events {
            if let status = await handle(event) { return status }
        }
        return 0
    }

    /// Carries out one event; a status means the supervisor is done.
    private func handle(_ event: SupervisorEvent) async -> Int32? {
        switch event {
        case .ready(.agent, let id) where agent?.id == id:
            agent?.ready = true
            everReady.insert(.agent)
            health.child(.agent, .running)
            if workers.isEmpty && !stopping { _ = await startWorker() }
        case .ready(.worker, let id):
            guard let index = workers.firstIndex(where: { $0.id == id }) else { return nil }
            workers[index].ready = true
            health.child(.worker, .running)
            health.workerServing(true)
            let first = everReady.insert(.worker).inserted
            logger.notice(first ? "relay ready" : "worker serving", metadata: ["child": "\(ChildRole.worker.rawValue)", "id": "\(id)"])
            if first { notifier.notify("READY=1") }
            // A reload: the new worker serves, so the old ones may drain.
            for other in workers.indices where workers[other].id != id && !workers[other].retiring {
                retire(at: other)
            }
        case .exited(let role, let id, let status):
            return await childExited(role, id: id, status: status)
        case .signal(let number) where number == SIGTERM || number == SIGINT:
            logger.notice("stopping on signal \(number)")
            notifier.notify("STOPPING=1")
            await stop()
            logger.notice("stopped")
            return 0
        case .signal(SIGHUP):
            await reload()
        case .timer(let token):
            switch timers.removeValue(forKey: token) {
            case .restart(.agent) where agent == nil && !stopping:
                _ = await startAgent()
            case .restart(.worker) where !workers.contains(where: { !$0.retiring }) && !stopping:
                _ = await startWorker()
            case .killIfRunning(let id):
                for child in workers + [agent].compactMap({ $0 }) where child.id == id {
                    logger.error("child did not stop in time, killing it", metadata: ["child": "\(child.role.rawValue)"])
                    kill(child.pid, SIGKILL)
                }
            default:
                break
            }
        default:
            break
        }
        return nil
    }

    private func childExited(_ role: ChildRole, id: Int, status: Int32) async -> Int32? {
        let exited: RunningChild
        switch role {
        case .agent:
            guard let current = agent, current.id == id else { return nil }
            exited = current
            agent = nil
        case .worker:
            guard let index = workers.firstIndex(where: { $0.id == id }) else { return nil }
            exited = workers.remove(at: index)
            health.workerServing(workers.contains { $0.ready && !$0.retiring })
        }
        close(exited.descriptorChannel)
        if exited.retiring || stopping {
            logger.notice("stopped", metadata: ["child": "\(role.rawValue)", "status": "\(Self.describe(status: status))"])
            return nil
        }
        guard everReady.contains(role) else {
            logger.critical("\(role.rawValue) failed before the relay could start (\(Self.describe(status: status))); see its message above")
            await stop()
            return 1
        }
        let delay = backoff[role, default: RestartBackoff()].delay(afterRunOf: ContinuousClock.now - exited.started)
        logger.error("child failed, restarting", metadata: ["child": "\(role.rawValue)", "status": "\(Self.describe(status: status))", "delay": "\(delay)"])
        health.child(role, .restarting)
        health.restarted(role)
        schedule(.restart(role), in: delay)
        return nil
    }

    /// SIGHUP: a new worker on the same listening socket; the old one drains once the new one serves,
    /// so no client is refused.
    private func reload() async {
        guard !stopping, agent?.ready == true, workers.contains(where: { $0.ready && !$0.retiring }) else {
            logger.warning("SIGHUP ignored: no serving worker to replace yet")
            return
        }
        logger.notice("SIGHUP: starting a new worker")
        _ = await startWorker()
    }

    private func retire(at index: Int) {
        workers[index].retiring = true
        kill(workers[index].pid, SIGTERM)
        schedule(.killIfRunning(id: workers[index].id), in: workerStopDeadline)
    }

    private var workerStopDeadline: TimeAmount { .seconds(Int64(options.shutdownTimeout) + 5) }

    /// SIGTERM to the workers (they drain), then to the agent; SIGKILL whatever outlives its deadline.
    private func stop() async {
        stopping = true
        for index in workers.indices where !workers[index].retiring { retire(at: index) }
        health.child(.worker, .stopping)
        await waitUntil { self.workers.isEmpty }
        if let current = agent {
            health.child(.agent, .stopping)
            kill(current.pid, SIGTERM)
            schedule(.killIfRunning(id: current.id), in: Self.agentStopDeadline)
            await waitUntil { self.agent == nil }
        }
    }

    /// Handles events (only exits and timers matter once stopping) until `done`.
    private func waitUntil(_ done: () -> Bool) async {
        var iterator = events.makeAsyncIterator()
        while !done(), let event = await iterator.next() {
            switch event {
            case .exited, .timer: _ = await handle(event)
            default: continue
            }
        }
    }

    private func startAgent() async -> Bool {
        let id = takeID()
        health.child(.agent, .starting)
        do {
            let shared = try SharedFiles.open(environment: environment)
            defer { shared.close() }
            agent = try await launcher.launch(
                .agent, id: id, path: paths[.agent] ?? "",
                arguments: ["--log-level", options.logLevel] + shared.pathArguments
                    + options.agentArguments(hostname: options.hostname ?? Self.hostName()),
                environment: ChildEnvironment.filter(environment, allowed: ChildEnvironment.agent),
                descriptors: shared.orderedDescriptors, identity: identities.agent)
        } catch {
            logger.critical("cannot start \(ChildRole.agent.rawValue): \(error)")
            return false
        }
        // Workers that outlived the previous agent get a channel to this one.
        for worker in workers {
            guard let workerEnd = connectToAgent() else { continue }
            if shim_send_fd(worker.descriptorChannel, workerEnd) != 0 {
                logger.error("cannot hand a worker its new credentials channel", metadata: ["id": "\(worker.id)"])
            }
            close(workerEnd)
        }
        return true
    }

    private func startWorker() async -> Bool {
        let id = takeID()
        health.child(.worker, .starting)
        // Without a running agent the worker gets a dead channel, fails to get credentials and is
        // restarted; a new agent connects every live worker anyway.
        let credentials: Int32
        if let end = connectToAgent() {
            credentials = end
        } else {
            var pair: [Int32] = [-1, -1]
            guard shim_socketpair_stream(&pair) == 0 else {
                logger.error("socketpair failed")
                return false
            }
            close(pair[0])
            credentials = pair[1]
        }
        defer { close(credentials) }
        let arguments = ["--log-level", options.logLevel, "--hostname", options.hostname ?? Self.hostName()] + options.workerArguments
        do {
            // Opened for each start, so a reload (SIGHUP) picks up a renewed certificate.
            let files = try WorkerFiles.open(options: options)
            defer { files.close() }
            let worker = try await launcher.launch(
                .worker, id: id, path: paths[.worker] ?? "", arguments: arguments,
                environment: ChildEnvironment.filter(environment, allowed: ChildEnvironment.worker),
                descriptors: [listener, credentials, tlsListener] + files.descriptors, identity: identities.worker)
            workers.append(worker)
            return true
        } catch {
            logger.error("cannot start \(ChildRole.worker.rawValue): \(error)")
            schedule(.restart(.worker), in: backoff[.worker, default: RestartBackoff()].delay(afterRunOf: .zero))
            return false
        }
    }

    /// A new socketpair between the agent and a worker: the agent's end goes to the agent now, the
    /// returned end is for the worker. nil when no agent runs.
    private func connectToAgent() -> Int32? {
        guard let agent else { return nil }
        var pair: [Int32] = [-1, -1]
        guard shim_socketpair_stream(&pair) == 0 else { return nil }
        defer { close(pair[0]) }
        guard shim_send_fd(agent.descriptorChannel, pair[0]) == 0 else {
            close(pair[1])
            return nil
        }
        return pair[1]
    }

    private func takeID() -> Int {
        nextID += 1
        return nextID
    }

    private func schedule(_ action: TimerAction, in delay: Duration) {
        let nanoseconds = delay.components.seconds * 1_000_000_000 + delay.components.attoseconds / 1_000_000_000
        schedule(action, in: .nanoseconds(nanoseconds))
    }

    private func schedule(_ action: TimerAction, in delay: TimeAmount) {
        let token = takeID()
        timers[token] = action
        let continuation = self.continuation
        group.next().scheduleTask(in: delay) { continuation.yield(.timer(token)) }
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
