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
            let token = try TokenFile.read(tokenFile, purpose: "web identity token (AWS_WEB_IDENTITY_TOKEN_FILE)")
            return try sts.assumeRoleWithWebIdentity(roleArn: role, sessionName: sessionName, token: token, now: now).credentials
        case .assumeRole(let role, let sessionName, let externalID, let base):
            let baseCredentials = try base.fetch(sts: sts, now: now)
            return try sts.assumeRole(with: baseCredentials, roleArn: role, sessionName: sessionName, externalID: externalID, now: now)
                .credentials
        }
    }
}

/// Small secrets kept in files (web identity tokens, Vault JWTs and secret ids): read whole, trimmed,
/// bounded. Read at every use, since their owners rotate them.
enum TokenFile {
    static let maxBytes = 64 * 1024

    static func read(_ path: String, purpose: String) throws(AgentError) -> String {
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY)
        guard fd >= 0 else { throw AgentError(.io, "cannot read the \(purpose) \(path): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if count == 0 { break }
            if count < 0 {
                if errno == EINTR { continue }
                throw AgentError(.io, "cannot read the \(purpose) \(path): \(String(cString: strerror(errno)))")
            }
            bytes.append(contentsOf: chunk[0..<count])
            guard bytes.count <= maxBytes else { throw AgentError(.io, "the \(purpose) \(path) is larger than 64 KiB") }
        }
        let text = String(decoding: bytes, as: UTF8.self).trimmingSpacesAndNewlines()
        guard !text.isEmpty else { throw AgentError(.io, "the \(purpose) \(path) is empty") }
        return text
    }
}

extension String {
    func trimmingSpacesAndNewlines() -> String {
        let isSpace: (Character) -> Bool = { $0 == " " || $0 == "\t" || $0 == "\n" || $0 == "\r" || $0 == "\r\n" }
        guard let start = firstIndex(where: { !isSpace($0) }), let end = lastIndex(where: { !isSpace($0) }) else { return "" }
        return String(self[start...end])
    }
}
