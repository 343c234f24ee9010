/// Where the supervisor places descriptors in its children (fork/exec puts `fds[i]` at 3+i).
/// One table, read by the supervisor when it spawns and by each child when it starts.
public enum ChildDescriptors {
    public enum Worker {
        /// The listening SMTP socket, bound by the supervisor.
        public static let smtpListener: Int32 = 3
        /// Control socketpair to the supervisor.
        public static let control: Int32 = 4
        /// Socketpair to the agent, for credentials.
        public static let credentials: Int32 = 5
    }

    public enum Agent {
        public static let control: Int32 = 3
        public static let credentials: Int32 = 4
        /// Optional: the shared credentials file (`~/.aws/credentials`), opened by the supervisor so that
        /// it may stay readable by root only. Its presence is announced by a command-line flag.
        public static let sharedCredentialsFile: Int32 = 5
        /// Optional: the shared config file (`~/.aws/config`).
        public static let sharedConfigFile: Int32 = 6
    }
}
