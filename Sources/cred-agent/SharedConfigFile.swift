// The AWS shared credentials and config files (INI), read by the credential agent only. The
// supervisor opens them (they may be readable by root only) and hands over the descriptors.

/// Sections of one INI file, by name, each a map of lower-cased keys to trimmed values.
struct SharedConfigFile: Equatable {
    var sections: [String: [String: String]] = [:]

    /// Lines `[section]` and `key = value`; `#` and `;` start comments. Indented lines (nested
    /// settings such as `s3 =` blocks) are skipped: nothing the agent reads is nested.
    init(parsing text: String) {
        var current: String?
        for rawLine in text.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "\r\n" }) {
            if rawLine.first == " " || rawLine.first == "\t" { continue }
            let line = rawLine.trimmingSpaces()
            if line.isEmpty || line.hasPrefix("#") || line.hasPrefix(";") { continue }
            if line.hasPrefix("[") && line.hasSuffix("]") {
                let name = String(line.dropFirst().dropLast()).trimmingSpaces()
                current = name
                sections[name, default: [:]] = sections[name, default: [:]]
                continue
            }
            guard let section = current, let equals = line.firstIndex(of: "=") else { continue }
            let key = String(line[..<equals]).trimmingSpaces().lowercased()
            let value = String(line[line.index(after: equals)...]).trimmingSpaces()
            sections[section, default: [:]][key] = value
        }
    }

    init() {}

    /// In the credentials file a profile's section is its name; in the config file it is
    /// `profile NAME`, except `default`.
    func credentialsProfile(_ name: String) -> [String: String]? { sections[name] }

    func configProfile(_ name: String) -> [String: String]? {
        name == "default" ? (sections["default"] ?? sections["profile default"]) : sections["profile \(name)"]
    }
}

extension StringProtocol {
    func trimmingSpaces() -> String {
        let isSpace: (Character) -> Bool = { $0 == " " || $0 == "\t" }
        guard let start = firstIndex(where: { !isSpace($0) }), let end = lastIndex(where: { !isSpace($0) }) else {
            return ""
        }
        return String(self[start...end])
    }
}
