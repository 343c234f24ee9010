import Logging

/// The command line the supervisor gives a child: `--name value` pairs from a fixed set. Children are
/// started only by the supervisor, so anything else is a bug and stops the child.
public struct ChildOptions: Sendable {
    public var values: [String: String]

    public struct UsageError: Error, CustomStringConvertible {
        public var description: String
    }

    public static func parse(_ arguments: [String], allowed: Set<String>) throws(UsageError) -> ChildOptions {
        var values: [String: String] = [:]
        var index = 0
        while index < arguments.count {
            let name = arguments[index]
            guard name.hasPrefix("--"), allowed.contains(String(name.dropFirst(2))) else {
                throw UsageError(description: "unknown argument \(name); this program is started by ses-smtpd-proxy")
            }
            guard index + 1 < arguments.count else { throw UsageError(description: "\(name) needs a value") }
            values[String(name.dropFirst(2))] = arguments[index + 1]
            index += 2
        }
        return ChildOptions(values: values)
    }

    public subscript(_ name: String) -> String? { values[name] }

    public var logLevel: Logger.Level { values["log-level"].flatMap(Logger.Level.init(rawValue:)) ?? .info }
}
