import CShim
import Logging
import NIOCore
import NIOPosix
import Shared

#if canImport(Glibc)
import Glibc
#endif

/// A child the supervisor started: its pid, the supervisor's end of its descriptor channel, and
/// where it is in its life.
struct RunningChild {
    var role: ChildRole
    var id: Int
    var pid: pid_t
    /// SOCK_SEQPACKET over which this child receives new credential sockets.
    var descriptorChannel: Int32
    var started: ContinuousClock.Instant
    var ready = false
    /// Told to drain (reload or stop): its exit is expected, not a failure.
    var retiring = false
}

/// Spawns a child through the C fork/exec helper (descriptors at 3, 4, …, privileges dropped before
/// exec), connects its control channel and reports its exit as an event.
struct ChildLauncher {
    let group: EventLoopGroup
    /// Children are forked from this one long-lived thread: PR_SET_PDEATHSIG fires when the *thread*
    /// that forked exits, and the async runtime's threads come and go.
    let spawner: NIOThreadPool
    let reaper: NIOThreadPool
    let health: HealthState
    let metrics: MetricsRegistry
    let events: AsyncStream<SupervisorEvent>.Continuation
    let logger: Logger

    /// The agent's `descriptors` go after its control socket and descriptor channel; the worker's first
    /// (the SMTP listener) before its control socket, the second (credentials) before its descriptor
    /// channel and the rest after it. See `ChildDescriptors` for each role's layout.
    func launch(
        _ role: ChildRole,
        id: Int,
        path: String,
        arguments: [String],
        environment: [String],
        descriptors: [Int32],
        identity: ChildIdentity
    ) async throws -> RunningChild {
        var control: [Int32] = [-1, -1]
        var channel: [Int32] = [-1, -1]
        guard shim_socketpair_stream(&control) == 0 else { throw SpawnError(description: "socketpair failed") }
        guard shim_socketpair_seqpacket(&channel) == 0 else {
            control.forEach { close($0) }
            throw SpawnError(description: "socketpair failed")
        }
        defer {
            close(control[1])
            close(channel[1])
        }
        let placed: [Int32]
        switch role {
        case .agent: placed = [control[1], channel[1]] + descriptors
        case .worker: placed = [descriptors[0], control[1], descriptors[1], channel[1]] + descriptors.dropFirst(2)
        }
        let pid: pid_t
        do {
            pid = try await spawner.runIfActive {
                try ChildSpawner.spawn(
                    path: path, arguments: arguments, environment: environment, descriptors: placed, identity: identity)
            }
        } catch {
            close(control[0])
            close(channel[0])
            throw error
        }
        logger.notice("started", metadata: ["child": "\(role.rawValue)", "pid": "\(pid)", "uid": "\(identity.uid)"])
        try await watch(role, id: id, pid: pid, control: control[0])
        return RunningChild(role: role, id: id, pid: pid, descriptorChannel: channel[0], started: .now)
    }

    private func watch(_ role: ChildRole, id: Int, pid: pid_t, control: Int32) async throws {
        let (health, metrics, events, logger, reaper) = (self.health, self.metrics, self.events, self.logger, self.reaper)
        let channel = try await ClientBootstrap(group: group)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addIPCHandlers(
                        ChildControlHandler(
                            role: role, pid: pid, id: id, health: health, metrics: metrics, events: events, logger: logger))
                }
            }
            .withConnectedSocket(control)
            .get()
        channel.closeFuture.whenComplete { _ in
            // The child closed its end: it is exiting. Reap it off the event loop.
            reaper.submit { _ in
                var status: Int32 = 0
                while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
                events.yield(.exited(role, id: id, status: status))
            }
        }
    }
}
