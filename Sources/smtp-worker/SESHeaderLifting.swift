import NIOCore
import Shared
import SMTPCore

/// The headers by which SendRawEmail and SES's SMTP interface take a configuration set and tags.
/// SESv2 SendEmail ignores them in raw content (SES-FACTS §2), so with v2 they are taken out of the
/// message and sent as API parameters.
struct LiftedSESHeaders: Equatable {
    var configurationSetName: String?
    var tags: [SESMessageTag] = []

    static let configurationSetField = "x-ses-configuration-set"
    static let tagsField = "x-ses-message-tags"

    /// The message is refused when these headers cannot be honoured: SES would not apply them either,
    /// and a message sent without its configuration set escapes the operator's event publishing.
    struct Problem: Error, Equatable, CustomStringConvertible {
        var detail: String
        /// Completes "Message refused: "; names the header, while its value stays in the log only.
        var replyText: String
        var description: String { detail }

        init(field: String, detail: String) {
            self.detail = detail
            self.replyText = "its \(field) header is not valid for SES"
        }

        static func headerSectionTooLong(inMemory octets: Int) -> Problem {
            var problem = Problem(field: "", detail: "no end of the header section in the first \(octets) octets")
            problem.replyText = "its header section is longer than \(octets) octets"
            return problem
        }
    }

    /// Finds the two fields in the header section (up to the first empty line), folded lines
    /// included, and returns the message without them, as slices of it: nothing is copied. Everything
    /// else stays byte for byte. Nil when the message has neither field. The header section must end
    /// inside the message's in-memory part; past it (256 KiB) SES would refuse the headers anyway.
    static func lift(from body: MessageBody) throws(Problem) -> (headers: LiftedSESHeaders, pieces: [MessagePiece])? {
        let message = body.head
        let (fields, complete) = HeaderSection.fields(of: message)
        if !complete, body.spooled != nil {
            throw Problem.headerSectionTooLong(inMemory: message.readableBytes)
        }
        let lifted = fields.filter { $0.name == configurationSetField || $0.name == tagsField }
        guard !lifted.isEmpty else { return nil }

        var headers = LiftedSESHeaders()
        for field in lifted {
            let value = field.unfoldedValue(in: message)
            if field.name == configurationSetField {
                guard headers.configurationSetName == nil else {
                    throw Problem(field: "X-SES-CONFIGURATION-SET", detail: "more than one X-SES-CONFIGURATION-SET header")
                }
                guard SESMessageTag.isValidPart(value), value.utf8.count <= 64 else {
                    throw Problem(field: "X-SES-CONFIGURATION-SET", detail: "X-SES-CONFIGURATION-SET \"\(value.prefix(80))\": letters, digits, '_' and '-' only")
                }
                headers.configurationSetName = value
            } else {
                guard let tags = SESMessageTag.parseList(value) else {
                    throw Problem(field: "X-SES-MESSAGE-TAGS", detail: "X-SES-MESSAGE-TAGS \"\(value.prefix(80))\": expected name=value, … of letters, digits, '_' and '-'")
                }
                headers.tags += tags
            }
        }
        var pieces: [MessagePiece] = []
        var position = message.readerIndex
        for field in lifted {
            if field.start > position { pieces.append(.bytes(message.getSlice(at: position, length: field.start - position)!)) }
            position = field.end
        }
        pieces.append(.bytes(message.getSlice(at: position, length: message.writerIndex - position)!))
        if let spooled = body.spooled { pieces.append(.file(spooled)) }
        return (headers, pieces)
    }
}

/// The fields of a message's header section (RFC 5322 §2.2): a field starts at a line that does not
/// begin with a blank, takes the continuation lines that do, and ends after its line break. Lines end
/// in CRLF (SMTP) but a bare LF is tolerated.
enum HeaderSection {
    struct Field: Equatable {
        /// Lower-cased.
        var name: String
        /// Absolute offsets in the buffer: the whole field, line breaks included.
        var start: Int
        var end: Int
        /// Just after the colon.
        var valueStart: Int

        func unfoldedValue(in message: ByteBuffer) -> String {
            let bytes = message.getBytes(at: valueStart, length: end - valueStart) ?? []
            let unfolded = bytes.filter { $0 != UInt8(ascii: "\r") && $0 != UInt8(ascii: "\n") }
            let text = String(decoding: unfolded, as: UTF8.self)
            let blank: (Character) -> Bool = { $0 == " " || $0 == "\t" }
            return String(text.drop(while: blank).reversed().drop(while: blank).reversed())
        }
    }

    /// `complete`: the section's end (an empty line, or a line that is no header) is in `message`.
    static func fields(of message: ByteBuffer) -> (fields: [Field], complete: Bool) {
        message.withUnsafeReadableBytes { bytes in
            var fields: [Field] = []
            var lineStart = 0
            while lineStart < bytes.count {
                let lineEnd = bytes[lineStart...].firstIndex(of: UInt8(ascii: "\n")).map { $0 + 1 } ?? bytes.count
                let first = bytes[lineStart]
                if first == UInt8(ascii: "\r") || first == UInt8(ascii: "\n") { return (fields, true) }  // the empty line
                if first == UInt8(ascii: " ") || first == UInt8(ascii: "\t") {
                    if !fields.isEmpty { fields[fields.count - 1].end = message.readerIndex + lineEnd }
                } else if let colon = bytes[lineStart..<lineEnd].firstIndex(of: UInt8(ascii: ":")) {
                    // RFC 5322 §4.5.3 (obsolete syntax) allows blanks before the colon.
                    var nameEnd = colon
                    while nameEnd > lineStart, bytes[nameEnd - 1] == UInt8(ascii: " ") || bytes[nameEnd - 1] == UInt8(ascii: "\t") {
                        nameEnd -= 1
                    }
                    let name = String(decoding: bytes[lineStart..<nameEnd], as: UTF8.self).lowercased()
                    fields.append(Field(name: name, start: message.readerIndex + lineStart, end: message.readerIndex + lineEnd,
                                        valueStart: message.readerIndex + colon + 1))
                } else {
                    return (fields, true)  // not a header line: the body starts here (SES would see it so too)
                }
                lineStart = lineEnd
            }
            return (fields, false)
        }
    }
}
