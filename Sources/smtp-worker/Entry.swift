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
            options = try ChildOptions.parse(Array(CommandLine.arguments.dropFirst()), allowed: Worker.allowedOptions)
        } catch {
            StandardError.write("ses-smtp-worker: \(error)\n")
            exit(64)
        }
        LogSetup.bootstrap(level: options.logLevel)
        let logger = Logger(label: "ses.worker")
        if let problem = ProcessIdentity.privilegeProblem() {
            logger.critical("refusing to start: \(problem)")
            exit(ProcessIdentity.exitConfigError)
        }
        do {
            try await Worker(options: options, logger: logger).run()
        } catch {
            logger.critical("stopped: \(error)")
            exit(1)
        }
    }
}
