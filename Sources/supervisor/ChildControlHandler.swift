import Logging
import NIOCore
import Shared

#if canImport(Glibc)
import Glibc
#endif

/// Events the supervisor's run loop waits on.
enum SupervisorEvent: Sendable {
    /// A child (by its spawn id) reported it is serving.
    case ready(ChildRole, id: Int)
    case exited(ChildRole, id: Int, status: Int32)
    case signal(Int32)
    /// A timer set by the run loop fired; the token says which.
    case timer(Int)
}

/// The supervisor's end of a child's control socketpair: counts metrics, updates health and reports
/// readiness. A message the child is not allowed to send is a protocol violation: the child is
/// stopped and restarted like a crashed one.
final class ChildControlHandler: ChannelInboundHandler {
    typealias InboundIn = IPCFrame

    private let role: ChildRole
    private let pid: pid_t
    private let id: Int
    private let health: HealthState
    private let metrics: MetricsRegistry
    private let events: AsyncStream<SupervisorEvent>.Continuation
    private let logger: Logger
    private var readySeen = false

    init(
        role: ChildRole,
        pid: pid_t,
        id: Int,
        health: HealthState,
        metrics: MetricsRegistry,
        events: AsyncStream<SupervisorEvent>.Continuation,
        logger: Logger
    ) {
        self.role = role
        self.pid = pid
        self.id = id
        self.health = health
        self.metrics = metrics
        self.events = events
        self.logger = logger
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        do {
            switch (try ControlMessage(frame: frame), role) {
            case (.ready, _) where !readySeen:
                readySeen = true
                events.yield(.ready(role, id: id))
            case (.metric(let event, let delta), _):
                metrics.record(event, delta: delta)
            case (.credentialStatus(let expiration), .agent):
                health.credentials(held: true, expiration: expiration)
            default:
                throw IPCError(.unexpectedMessage, "kind \(frame.kind) from \(role.rawValue)")
            }
        } catch {
            violation(context: context, error: error)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        violation(context: context, error: error)
    }

    private func violation(context: ChannelHandlerContext, error: Error) {
        logger.error("stopping child: bad control message", metadata: ["child": "\(role.rawValue)", "error": "\(error)"])
        kill(pid, SIGKILL)
        context.close(promise: nil)
    }
}
