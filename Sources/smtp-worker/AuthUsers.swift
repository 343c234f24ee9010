import SMTPCore

/// `--auth-users-file`: one `user:hash[:regex]` per line, `#` comments and blank lines ignored. Hashes
/// in the crypt(3) formats `mkpasswd` and `openssl passwd` make — yescrypt (`$y$`), bcrypt (`$2b$`,
/// `$2y$`, `$2a$`) and sha512-crypt (`$6$`); older ones (DES, MD5) are refused. The optional regex
/// restricts the user's MAIL FROM addresses.
struct AuthUsers: Sendable {
    struct User: Sendable {
        var hash: String
        var allowedSenders: AddressPattern?
    }

    let users: [String: User]

    struct Problem: Error, CustomStringConvertible {
        var description: String
    }

    static let acceptedPrefixes = ["$y$", "$2b$", "$2y$", "$2a$", "$6$"]

    init(parsing bytes: [UInt8]) throws(Problem) {
        guard let text = String(validating: bytes, as: UTF8.self) else { throw Problem(description: "not UTF-8") }
        var users: [String: User] = [:]
        // "\r\n" is one Character in Swift, so both line ends are named.
        for (index, line) in text.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "\r\n" }).enumerated() {
            let number = index + 1
            if line.allSatisfy({ $0 == " " || $0 == "\t" }) || line.hasPrefix("#") { continue }
            let fields = line.split(separator: ":", maxSplits: 2, omittingEmptySubsequences: false)
            guard fields.count >= 2 else { throw Problem(description: "line \(number): expected user:hash or user:hash:regex") }
            let user = String(fields[0])
            let hash = String(fields[1])
            guard !user.isEmpty, user.utf8.count <= 256, !user.contains(where: { $0.isWhitespace }) else {
                throw Problem(description: "line \(number): the user name is empty, longer than 256 bytes or has blanks")
            }
            guard Self.acceptedPrefixes.contains(where: hash.hasPrefix), hash.utf8.count < 256 else {
                throw Problem(
                    description: "line \(number): the hash of \(user) is not yescrypt, bcrypt or sha512-crypt (make one with mkpasswd -m yescrypt)")
            }
            guard users[user] == nil else { throw Problem(description: "line \(number): \(user) is listed twice") }
            var allowedSenders: AddressPattern?
            if fields.count == 3, !fields[2].isEmpty {
                do {
                    allowedSenders = try AddressPattern(String(fields[2]))
                } catch {
                    throw Problem(description: "line \(number): the sender pattern of \(user) is not a regular expression: \(error)")
                }
            }
            users[user] = User(hash: hash, allowedSenders: allowedSenders)
        }
        guard !users.isEmpty else { throw Problem(description: "no user in the file") }
        self.users = users
    }
}
