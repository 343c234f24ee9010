import ArgumentParser
import FoundationEssentials
import Logging
import Shared

#if canImport(Glibc)
import Glibc
#endif

@main
struct Entry: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ses-smtpd-proxy",
        abstract: "SMTP server that relays every accepted message to Amazon SES (SendRawEmail).",
        version: ProductVersion.string
    )

    @OptionGroup var options: SupervisorOptions

    func run() async throws {
        LogSetup.bootstrap(level: Logger.Level(rawValue: options.logLevel) ?? .info)
        let logger = Logger(label: "ses.supervisor")
        let status: Int32
        do {
            status = try await Supervisor(options: options, environment: ProcessInfo.processInfo.environment, logger: logger).run()
        } catch {
            logger.critical("cannot start: \(error)")
            throw ExitCode(1)
        }
        throw ExitCode(status)
    }
}
