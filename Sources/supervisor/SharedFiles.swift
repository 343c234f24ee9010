import Shared

#if canImport(Glibc)
import Glibc
#endif

/// The files the agent may need that the agent's user may not be able to open (see `AgentFile`),
/// opened — never read — by the supervisor for each agent start, so a restarted agent gets the current
/// files. A file named by its variable must exist; a default location that does not is /dev/null.
struct SharedFiles {
    var descriptors: [AgentFile: Int32] = [:]
    var paths: [AgentFile: String] = [:]

    static func open(environment: [String: String]) throws -> SharedFiles {
        let home = environment["HOME"] ?? "/root"
        var files = SharedFiles()
        do {
            for file in AgentFile.allCases {
                let (variable, explicit, fallback) = location(of: file, environment: environment, home: home)
                let path = explicit ?? fallback
                files.descriptors[file] = try openOrEmpty(path, required: explicit != nil, variable: variable)
                files.paths[file] = path ?? ""
            }
        } catch {
            files.close()
            throw error
        }
        return files
    }

    /// In `AgentFile` order, for the spawn.
    var orderedDescriptors: [Int32] { AgentFile.allCases.map { descriptors[$0] ?? -1 } }

    var pathArguments: [String] { AgentFile.allCases.flatMap { ["--\($0.pathOption)", paths[$0] ?? ""] } }

    func close() {
        for fd in descriptors.values where fd >= 0 { Glibc.close(fd) }
    }

    /// The variable that names the file, its value, and where to look when it is unset.
    private static func location(of file: AgentFile, environment: [String: String], home: String) -> (String, String?, String?) {
        func value(_ name: String) -> String? { environment[name].flatMap { $0.isEmpty ? nil : $0 } }
        switch file {
        case .sharedCredentials:
            return ("AWS_SHARED_CREDENTIALS_FILE", value("AWS_SHARED_CREDENTIALS_FILE"), "\(home)/.aws/credentials")
        case .sharedConfig:
            return ("AWS_CONFIG_FILE", value("AWS_CONFIG_FILE"), "\(home)/.aws/config")
        case .webIdentityToken:
            return ("AWS_WEB_IDENTITY_TOKEN_FILE", value("AWS_WEB_IDENTITY_TOKEN_FILE"), nil)
        case .vaultSecretID:
            // systemd's LoadCredential=vault-approle-secret-id:… lands here, readable by root only.
            return ("VAULT_APPROLE_SECRET_ID_FILE", value("VAULT_APPROLE_SECRET_ID_FILE"),
                    value("CREDENTIALS_DIRECTORY").map { "\($0)/vault-approle-secret-id" })
        case .vaultJWT:
            return ("VAULT_JWT_FILE", value("VAULT_JWT_FILE"), nil)
        case .containerAuthorizationToken:
            return ("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", value("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"), nil)
        }
    }

    static func openOrEmpty(_ path: String?, required: Bool, variable: String) throws -> Int32 {
        if let path {
            let fd = Glibc.open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY)
            if fd >= 0 { return fd }
            guard !required && (errno == ENOENT || errno == ENOTDIR) else {
                throw Supervisor.StartupError(description: "\(variable)=\(path): cannot open: \(String(cString: strerror(errno)))")
            }
        }
        let empty = Glibc.open("/dev/null", O_RDONLY | O_CLOEXEC)
        guard empty >= 0 else { throw Supervisor.StartupError(description: "cannot open /dev/null") }
        return empty
    }
}

/// The `WorkerFile`s, opened for one worker start; /dev/null for those not configured.
struct WorkerFiles {
    var descriptors: [Int32]

    static func open(options: SupervisorOptions) throws -> WorkerFiles {
        var files = WorkerFiles(descriptors: [])
        do {
            for file in WorkerFile.allCases {
                let path = options.path(of: file)
                files.descriptors.append(try SharedFiles.openOrEmpty(path, required: path != nil, variable: file.flag))
            }
        } catch {
            files.close()
            throw error
        }
        return files
    }

    func close() {
        for fd in descriptors where fd >= 0 { Glibc.close(fd) }
    }
}
