// A profile's `credential_process`: a command the SDKs run to obtain keys, printing JSON on stdout
// (`Version` 1, `AccessKeyId`, `SecretAccessKey`, optional `SessionToken` and `Expiration`). It runs as
// the agent's user, with the agent's environment, no shell, and a time limit.
import CredentialDocuments
import Shared

#if canImport(Glibc)
import Glibc
#endif

struct CredentialProcess: Equatable, Sendable {
    static let timeoutSeconds: Int64 = 30
    static let maxOutputBytes = 64 * 1024

    var arguments: [String]
    /// For messages: "credential_process of profile mail in /etc/ses/config".
    var origin: String

    init(command: String, origin: String) throws(AgentError) {
        guard let arguments = Self.split(command) else {
            throw AgentError(.unsupported, "\(origin): credential_process is empty or leaves a quote open")
        }
        self.arguments = arguments
        self.origin = origin
    }

    func fetch() throws(AgentError) -> BaseCredentials {
        try CredentialsJSON.credentials(from: try run(), source: origin, fromProcess: true)
    }

    /// Runs the command with stdin on /dev/null and stderr shared with the agent (so its complaints
    /// reach the log), and returns its stdout.
    private func run() throws(AgentError) -> [UInt8] {
        var pipeEnds: [Int32] = [-1, -1]
        guard pipe(&pipeEnds) == 0 else { throw AgentError(.io, "\(origin): pipe: \(String(cString: strerror(errno)))") }
        // Nothing else in the agent spawns, so setting close-on-exec after pipe() races with no one.
        for end in pipeEnds { _ = fcntl(end, F_SETFD, FD_CLOEXEC) }
        defer { if pipeEnds[0] >= 0 { close(pipeEnds[0]) } }

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_adddup2(&actions, pipeEnds[1], 1)

        var argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
        defer { for pointer in argv { free(pointer) } }
        var pid: pid_t = 0
        // posix_spawnp: a bare program name is looked up in PATH, as the SDKs do.
        let spawned = posix_spawnp(&pid, arguments[0], &actions, nil, &argv, environ)
        close(pipeEnds[1])
        guard spawned == 0 else {
            throw AgentError(.io, "\(origin): cannot run \(arguments[0]): \(String(cString: strerror(spawned)))")
        }

        let deadline = Int64(time(nil)) + Self.timeoutSeconds
        var output: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        var problem: String? = nil
        while problem == nil {
            let left = deadline - Int64(time(nil))
            var poller = pollfd(fd: pipeEnds[0], events: Int16(POLLIN), revents: 0)
            let ready = poll(&poller, 1, Int32(max(0, left) * 1000))
            if ready < 0 && errno == EINTR { continue }
            if ready <= 0 {
                problem = "did not finish within \(Self.timeoutSeconds) s"
                break
            }
            let count = chunk.withUnsafeMutableBytes { read(pipeEnds[0], $0.baseAddress, $0.count) }
            if count < 0 && errno == EINTR { continue }
            if count <= 0 { break }
            output.append(contentsOf: chunk[0..<count])
            if output.count > Self.maxOutputBytes { problem = "printed more than \(Self.maxOutputBytes) bytes" }
        }
        if problem != nil { kill(pid, SIGKILL) }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        if let problem { throw AgentError(.io, "\(origin): the command \(problem)") }
        let exited = (status & 0x7f) == 0
        let code = (status >> 8) & 0xff
        guard exited && code == 0 else {
            let how = exited ? "exited with status \(code)" : "was killed by signal \(status & 0x7f)"
            throw AgentError(.incompleteCredentials, "\(origin): the command \(how)")
        }
        return output
    }

    /// Splits a command line as a POSIX shell would split words, without expansions: whitespace
    /// separates, single quotes keep everything, double quotes and backslashes as in sh. Nil when a
    /// quote is left open.
    static func split(_ command: String) -> [String]? {
        var words: [String] = []
        var word = ""
        var inWord = false
        var quote: Character? = nil
        var escaped = false
        for character in command {
            if escaped {
                word.append(character)
                escaped = false
                continue
            }
            switch (quote, character) {
            case ("'", "'"), ("\"", "\""):
                quote = nil
            case ("'", _):
                word.append(character)
            case (_, "\\"):
                escaped = true
                inWord = true
            case ("\"", _):
                word.append(character)
            case (nil, "'"), (nil, "\""):
                quote = character
                inWord = true
            case (nil, " "), (nil, "\t"):
                if inWord { words.append(word) }
                word = ""
                inWord = false
            default:
                word.append(character)
                inWord = true
            }
        }
        guard quote == nil, !escaped else { return nil }
        if inWord { words.append(word) }
        return words.isEmpty ? nil : words
    }
}
