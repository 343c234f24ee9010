import Logging

/// Log setup shared by the three processes: swift-log to stderr, which systemd hands to the journal.
public enum LogSetup {
    public static func bootstrap(level: Logger.Level) {
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
    }
}

#if canImport(Glibc)
import Glibc
#endif

/// For the few messages written before logging is set up (a bad command line).
public enum StandardError {
    public static func write(_ text: String) {
        var bytes = Array(text.utf8)
        _ = bytes.withUnsafeMutableBytes { Glibc.write(2, $0.baseAddress, $0.count) }
    }
}
