/// Where the supervisor places descriptors in its children (fork/exec puts `fds[i]` at 3+i).
/// One table, read by the supervisor when it spawns and by each child when it starts.
public enum ChildDescriptors {
    public enum Worker {
        /// The listening SMTP socket, bound by the supervisor (or handed to it by systemd).
        public static let smtpListener: Int32 = 3
        /// Control socketpair to the supervisor.
        public static let control: Int32 = 4
        /// Socketpair to the agent, for credentials. A restarted agent's socket arrives on `descriptors`.
        public static let credentials: Int32 = 5
        /// SOCK_SEQPACKET from the supervisor carrying replacement credential sockets (SCM_RIGHTS).
        public static let descriptors: Int32 = 6
        /// The implicit-TLS listener (`--tls-listen`), or /dev/null. Then one descriptor per `WorkerFile`.
        public static let tlsListener: Int32 = 7
    }

    public enum Agent {
        public static let control: Int32 = 3
        /// SOCK_SEQPACKET from the supervisor carrying one credentials socket per worker (SCM_RIGHTS):
        /// a new one for each worker started, restarted or reloaded.
        public static let descriptors: Int32 = 4
        // Then one descriptor per `AgentFile`, from 5 on.
    }
}

/// Files the agent reads that may be readable by root only (`~/.aws/credentials`, a systemd credential,
/// a Kubernetes token): the supervisor opens each without reading it and hands the agent the
/// descriptor, at `descriptor`; /dev/null when there is none. At every use the agent reads a file by
/// path when its own user may (so a token replaced by rename is seen), else from the descriptor with
/// pread (so a file rewritten in place is seen; one replaced by rename is seen at the agent's next
/// start). It learns the paths from `pathOption`.
public enum AgentFile: Int32, CaseIterable, Sendable {
    case sharedCredentials = 5
    case sharedConfig
    case webIdentityToken
    case vaultSecretID
    case vaultJWT
    case containerAuthorizationToken

    public var descriptor: Int32 { rawValue }

    /// The agent's command-line option carrying the path the file was opened from ("" for none).
    public var pathOption: String {
        switch self {
        case .sharedCredentials: "credentials-path"
        case .sharedConfig: "config-path"
        case .webIdentityToken: "web-identity-token-path"
        case .vaultSecretID: "vault-secret-id-path"
        case .vaultJWT: "vault-jwt-path"
        case .containerAuthorizationToken: "container-token-path"
        }
    }
}

/// Files the worker reads once, at its start, that only root may read: the TLS certificate chain and
/// key and the AUTH users file. The supervisor opens them (never reads them) for each worker it
/// starts, so a reload (SIGHUP) reads them anew; /dev/null stands for a file not configured.
public enum WorkerFile: Int32, CaseIterable, Sendable {
    case tlsCertificate = 8
    case tlsKey
    case authUsers

    public var descriptor: Int32 { rawValue }

    /// The supervisor's flag that names the file, for messages.
    public var flag: String {
        switch self {
        case .tlsCertificate: "--tls-cert"
        case .tlsKey: "--tls-key"
        case .authUsers: "--auth-users-file"
        }
    }

    /// Certificates and user lists are small; a larger file is a mistake (a wrong path).
    public static let maxBytes = 1 << 20
}
