#if canImport(Glibc)
import Glibc
#endif

/// The AWS shared credentials and config files, opened by the supervisor for the agent: they often
/// sit in root's home, readable by root only, and the agent runs as another user. Opened anew for
/// every agent start, so a restarted agent reads the current files. A missing file is /dev/null.
struct SharedFiles {
    var credentials: Int32
    var credentialsPath: String
    var config: Int32
    var configPath: String

    static func open(environment: [String: String]) throws -> SharedFiles {
        let home = environment["HOME"] ?? "/root"
        let credentialsPath = nonEmpty(environment["AWS_SHARED_CREDENTIALS_FILE"]) ?? "\(home)/.aws/credentials"
        let configPath = nonEmpty(environment["AWS_CONFIG_FILE"]) ?? "\(home)/.aws/config"
        let credentials = try openOrEmpty(credentialsPath, variable: "AWS_SHARED_CREDENTIALS_FILE")
        do {
            let config = try openOrEmpty(configPath, variable: "AWS_CONFIG_FILE")
            return SharedFiles(credentials: credentials, credentialsPath: credentialsPath, config: config, configPath: configPath)
        } catch {
            Glibc.close(credentials)
            throw error
        }
    }

    func close() {
        Glibc.close(credentials)
        Glibc.close(config)
    }

    private static func nonEmpty(_ value: String?) -> String? {
        guard let value, !value.isEmpty else { return nil }
        return value
    }

    private static func openOrEmpty(_ path: String, variable: String) throws -> Int32 {
        let fd = Glibc.open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY)
        if fd >= 0 { return fd }
        guard errno == ENOENT || errno == ENOTDIR else {
            throw Supervisor.StartupError(description: "cannot read \(path) (\(variable)): \(String(cString: strerror(errno)))")
        }
        let empty = Glibc.open("/dev/null", O_RDONLY | O_CLOEXEC)
        guard empty >= 0 else { throw Supervisor.StartupError(description: "cannot open /dev/null") }
        return empty
    }
}
