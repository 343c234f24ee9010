import CShim
import Logging

#if canImport(Glibc)
import Glibc
#endif

/// The users the children run as. Started as root: `--agent-user` and `--worker-user`, which must
/// exist, differ from each other and not be root. Started as anyone else: that user, with a warning,
/// since nothing then separates the worker from the agent's secrets.
struct ChildIdentities {
    var agent: ChildIdentity
    var worker: ChildIdentity

    static func resolve(options: SupervisorOptions, logger: Logger) throws -> ChildIdentities {
        guard geteuid() == 0 else {
            logger.warning(
                "not started as root: the agent and the worker run as uid \(getuid()) too, without privilege separation")
            return ChildIdentities(agent: .inherit, worker: .inherit)
        }
        let agent = try lookup(options.agentUser, flag: "--agent-user")
        let worker = try lookup(options.workerUser, flag: "--worker-user")
        guard agent.uid != worker.uid else {
            throw Supervisor.StartupError(
                description: "--agent-user \(options.agentUser) and --worker-user \(options.workerUser) must be different users")
        }
        return ChildIdentities(agent: agent, worker: worker)
    }

    private static func lookup(_ name: String, flag: String) throws -> ChildIdentity {
        var uid: uid_t = 0
        var gid: gid_t = 0
        switch shim_lookup_user(name, &uid, &gid) {
        case 0:
            guard uid != 0 else { throw Supervisor.StartupError(description: "\(flag) \(name): must not be root") }
            return ChildIdentity(uid: uid, gid: gid, change: true)
        case 1:
            throw Supervisor.StartupError(
                description: "\(flag) \(name): no such user (create it, e.g. with the package's sysusers entry, or name another with \(flag))")
        case let error:
            throw Supervisor.StartupError(description: "\(flag) \(name): user lookup failed: \(String(cString: strerror(-error)))")
        }
    }
}
