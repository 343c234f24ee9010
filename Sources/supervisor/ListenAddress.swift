/// `host:port`, `[v6]:port` or `:port` (every address), as Go's net.Listen takes them.
struct ListenAddress: Equatable, Sendable, CustomStringConvertible {
    var host: String
    var port: Int

    struct Problem: Error, CustomStringConvertible {
        var description: String
    }

    init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    /// Reachable from this host only: 127.0.0.0/8, ::1, localhost. An empty host is every address.
    var isLoopback: Bool {
        host == "localhost" || host == "::1" || (host.hasPrefix("127.") && host.split(separator: ".").count == 4)
    }

    init(parsing text: String) throws(Problem) {
        guard let colon = text.lastIndex(of: ":") else { throw Problem(description: "expected host:port") }
        var host = String(text[..<colon])
        let portText = text[text.index(after: colon)...]
        guard let port = Int(portText, radix: 10), (0...65535).contains(port) else {
            throw Problem(description: "port must be a number from 0 to 65535")
        }
        if host.hasPrefix("[") {
            guard host.hasSuffix("]") else { throw Problem(description: "unclosed [ in IPv6 address") }
            host = String(host.dropFirst().dropLast())
        } else if host.contains(":") {
            throw Problem(description: "put an IPv6 address in brackets, like [::1]:2500")
        }
        guard host.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) else { throw Problem(description: "bad host") }
        self.host = host
        self.port = port
    }

    var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }

    static func isPlainToken(_ text: String) -> Bool {
        !text.isEmpty && text.utf8.count <= 64
            && text.utf8.allSatisfy {
                ($0 >= UInt8(ascii: "a") && $0 <= UInt8(ascii: "z")) || ($0 >= UInt8(ascii: "A") && $0 <= UInt8(ascii: "Z"))
                    || ($0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9")) || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: "-")
            }
    }
}
