/// The few fixed XML shapes that SES v1 and STS answer with are read by element name: the text of the
/// first `<Name>…</Name>` leaf, entity-decoded. A leaf that contains markup, or an unknown entity,
/// reads as absent: we never guess at a value.
public enum XMLText {
    public static func first(_ name: String, in document: [UInt8]) -> String? {
        let open = Array("<\(name)>".utf8)
        let close = Array("</\(name)>".utf8)
        guard let start = find(open, in: document, from: 0) else { return nil }
        let contentStart = start + open.count
        guard let end = find(close, in: document, from: contentStart) else { return nil }
        let content = document[contentStart..<end]
        guard !content.contains(UInt8(ascii: "<")) else { return nil }
        return decodeEntities(content)
    }

    private static func find(_ needle: [UInt8], in haystack: [UInt8], from: Int) -> Int? {
        guard needle.count <= haystack.count else { return nil }
        var index = from
        while index + needle.count <= haystack.count {
            if haystack[index] == needle[0] && haystack[index..<index + needle.count].elementsEqual(needle) {
                return index
            }
            index += 1
        }
        return nil
    }

    static func decodeEntities(_ text: ArraySlice<UInt8>) -> String? {
        var out: [UInt8] = []
        out.reserveCapacity(text.count)
        var index = text.startIndex
        while index < text.endIndex {
            let byte = text[index]
            guard byte == UInt8(ascii: "&") else {
                out.append(byte)
                index += 1
                continue
            }
            guard let semicolon = text[index...].firstIndex(of: UInt8(ascii: ";")), semicolon - index <= 10 else {
                return nil
            }
            let entity = String(decoding: text[(index + 1)..<semicolon], as: UTF8.self)
            switch entity {
            case "lt": out.append(UInt8(ascii: "<"))
            case "gt": out.append(UInt8(ascii: ">"))
            case "amp": out.append(UInt8(ascii: "&"))
            case "quot": out.append(UInt8(ascii: "\""))
            case "apos": out.append(UInt8(ascii: "'"))
            default:
                guard let scalar = numericEntity(entity) else { return nil }
                out.append(contentsOf: Array(String(Character(scalar)).utf8))
            }
            index = semicolon + 1
        }
        return String(validating: out, as: UTF8.self)
    }

    private static func numericEntity(_ entity: String) -> Unicode.Scalar? {
        guard entity.hasPrefix("#") else { return nil }
        let digits = entity.dropFirst()
        let value: UInt32?
        if digits.hasPrefix("x") || digits.hasPrefix("X") {
            value = UInt32(digits.dropFirst(), radix: 16)
        } else {
            value = UInt32(digits, radix: 10)
        }
        return value.flatMap(Unicode.Scalar.init)
    }
}
