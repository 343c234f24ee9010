/// An SES message tag (`--tag NAME=VALUE`, `X-SES-MESSAGE-TAGS`). SES allows names and values of
/// 1 to 256 ASCII letters, digits, `_` and `-` (SES-FACTS §1), so a tag never needs quoting and a
/// list of them can travel to the worker joined with commas.
public struct SESMessageTag: Equatable, Sendable {
    public var name: String
    public var value: String

    public init?(name: String, value: String) {
        guard Self.isValidPart(name), Self.isValidPart(value) else { return nil }
        self.name = name
        self.value = value
    }

    /// `NAME=VALUE`, surrounding blanks ignored (the header form is `a=b, c=d`).
    public init?(parsing text: Substring) {
        let parts = text.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
        guard parts.count == 2 else { return nil }
        let blank: (Character) -> Bool = { $0 == " " || $0 == "\t" }
        func trimmed(_ part: Substring.SubSequence) -> String { String(part.drop(while: blank).reversed().drop(while: blank).reversed()) }
        self.init(name: trimmed(parts[0]), value: trimmed(parts[1]))
    }

    public var text: String { "\(name)=\(value)" }

    public static func isValidPart(_ text: String) -> Bool {
        (1...256).contains(text.utf8.count)
            && text.utf8.allSatisfy { byte in
                switch byte {
                case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                    UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "_"), UInt8(ascii: "-"):
                    true
                default: false
                }
            }
    }

    /// `a=b,c=d` as the supervisor passes the flags to the worker; nil if any item is not a tag.
    public static func parseList(_ text: String) -> [SESMessageTag]? {
        var tags: [SESMessageTag] = []
        for item in text.split(separator: ",", omittingEmptySubsequences: false) {
            guard let tag = SESMessageTag(parsing: item) else { return nil }
            tags.append(tag)
        }
        return tags
    }
}
