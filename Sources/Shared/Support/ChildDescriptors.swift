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
    }

    public enum Agent {
        public static let control: Int32 = 3
        /// SOCK_SEQPACKET from the supervisor carrying one credentials socket per worker (SCM_RIGHTS):
        /// a new one for each worker started, restarted or reloaded.
        public static let descriptors: Int32 = 4
        /// The shared credentials file (`~/.aws/credentials`), opened by the supervisor so that it may stay
        /// readable by root only; /dev/null when there is none.
        public static let sharedCredentialsFile: Int32 = 5
        /// The shared config file (`~/.aws/config`), likewise.
        public static let sharedConfigFile: Int32 = 6
    }
}
