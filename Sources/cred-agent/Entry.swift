import CShim
import CredentialDocuments
import Logging
import Shared

#if canImport(Glibc)
import Glibc
#endif

@main
struct Entry {
    static func main() async {
        let options: ChildOptions
        do {
            options = try ChildOptions.parse(Array(CommandLine.arguments.dropFirst()), allowed: Agent.allowedOptions)
        } catch {
            StandardError.write("ses-cred-agent: \(error)\n")
            exit(64)
        }
        LogSetup.bootstrap(level: options.logLevel)
        let logger = Logger(label: "ses.agent")
        if let problem = ProcessIdentity.privilegeProblem() {
            logger.critical("refusing to start: \(problem)")
            exit(ProcessIdentity.exitConfigError)
        }
        // The agent holds the secret access key: no core files, no ptrace by the same user.
        _ = shim_set_dumpable(0)
        _ = shim_disable_core_dumps()
        do {
            try await Agent(options: options, logger: logger).run()
        } catch let error as AgentError {
            logger.critical("\(error.detail)")
            exit(ProcessIdentity.exitConfigError)
        } catch {
            logger.critical("stopped: \(error)")
            exit(1)
        }
    }
}
