import CredentialDocuments
import Shared

#if canImport(Glibc)
import Glibc
#endif

extension CredentialSource {
    /// Obtains credentials now: the fixed keys, or what STS answers. Blocking (HTTP); runs on the agent's
    /// thread pool. Errors name the file, role or variable at fault.
    func fetch(sts: STSClient, now: Int64) throws(AgentError) -> BaseCredentials {
        switch self {
        case .fixed(let credentials):
            return credentials
        case .webIdentity(let role, let sessionName, let tokenFile):
            let token = try tokenFile.read(purpose: "web identity token")
            return try sts.assumeRoleWithWebIdentity(roleArn: role, sessionName: sessionName, token: token, now: now).credentials
        case .assumeRole(let role, let sessionName, let externalID, let base):
            let baseCredentials = try base.fetch(sts: sts, now: now)
            return try sts.assumeRole(with: baseCredentials, roleArn: role, sessionName: sessionName, externalID: externalID, now: now)
                .credentials
        case .vault(let session):
            return try session.credentials(sts: sts, now: now)
        case .process(let process):
            return try process.fetch()
        case .container(let endpoint):
            return try endpoint.fetch()
        case .instanceMetadata(let service):
            return try service.fetch()
        }
    }

    /// When something under this source must be renewed even though the credentials it gave have not
    /// reached their refresh time (a Vault token, a KV secret that has no expiry of its own).
    var maintenanceDue: Int64? {
        switch self {
        case .fixed, .webIdentity, .process, .container, .instanceMetadata: nil
        case .assumeRole(_, _, _, let base): base.maintenanceDue
        case .vault(let session): session.nextDue()
        }
    }
}

/// A small secret or config file: a web identity token, a Vault JWT or secret id, the shared AWS files.
/// Read whole and bounded at every use, since their owners rotate them: by path when the agent's user
/// may open it (the kubelet replaces a projected token by swapping a symlink, which an open descriptor
/// would never see), else through the descriptor the supervisor opened (from its start, with pread).
struct TokenFile: Equatable, Sendable {
    static let maxBytes = 1 << 20

    var path: String
    var descriptor: Int32?

    /// The file the supervisor passed for `file`, or nil when it passed none.
    static func passed(_ file: AgentFile, options: ChildOptions) -> TokenFile? {
        guard let path = options[file.pathOption], !path.isEmpty else { return nil }
        return TokenFile(path: path, descriptor: file.descriptor)
    }

    func read(purpose: String) throws(AgentError) -> String {
        let text = String(decoding: try bytes(purpose: purpose), as: UTF8.self).trimmingSpacesAndNewlines()
        guard !text.isEmpty else { throw AgentError(.io, "the \(purpose) \(path) is empty") }
        return text
    }

    /// The whole file, possibly empty (a shared config file may be).
    func bytes(purpose: String) throws(AgentError) -> [UInt8] {
        let byPath = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK)
        let fd = byPath >= 0 ? byPath : (descriptor ?? -1)
        guard fd >= 0 else { throw AgentError(.io, "cannot read the \(purpose) \(path): \(String(cString: strerror(errno)))") }
        defer { if byPath >= 0 { close(byPath) } }
        do {
            return try DescriptorFile.readAll(fd, limit: Self.maxBytes)
        } catch {
            throw AgentError(.io, "cannot read the \(purpose) \(path): \(error)")
        }
    }
}

/// A small secret given either in the environment or as a file that is read again at every use (a
/// systemd credential, a Kubernetes service-account token): a Vault login secret, a container
/// endpoint's authorization token.
enum SecretValue: Equatable, Sendable {
    case literal(String)
    case file(TokenFile)

    func value(purpose: String) throws(AgentError) -> String {
        switch self {
        case .literal(let value): value
        case .file(let file): try file.read(purpose: purpose)
        }
    }
}

extension String {
    func trimmingSpacesAndNewlines() -> String {
        let isSpace: (Character) -> Bool = { $0 == " " || $0 == "\t" || $0 == "\n" || $0 == "\r" || $0 == "\r\n" }
        guard let start = firstIndex(where: { !isSpace($0) }), let end = lastIndex(where: { !isSpace($0) }) else { return "" }
        return String(self[start...end])
    }
}
