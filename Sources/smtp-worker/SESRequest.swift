import HTTPTransport
import NIOCore
import Shared
import SMTPCore

/// The body of one send: a head of fields, the message (after the trace header, if any) in base64,
/// and a tail. A message held in memory (at most the spool's 256 KiB) is encoded once, into
/// `encoded`, which is hashed and sent: one pass, and curl writes it with the request's headers. A
/// spooled one is never held whole: making it encodes it for its length and SigV4 hash, and each
/// attempt encodes it again as curl asks for it, so a 40 MB message costs the worker its own size
/// rather than 2.4 times as much again in base64.
struct SESSendRequest: HTTPBodyStream {
    var api: SESSendSettings.API
    var contentType: String
    let head: [UInt8]
    /// Encoded one after the other, as one stream of bytes.
    let content: [MessagePiece]
    /// v1's form: base64 with `+`, `/` and `=` percent-encoded.
    let formEncoded: Bool
    let tail: [UInt8]
    private(set) var length = 0
    private(set) var payloadSHA256 = ""
    /// The whole body, when no piece of the message is in a spool file.
    private(set) var encoded: [UInt8]?

    var httpBody: HTTPBody { encoded.map { .bytes($0) } ?? .stream(self) }

    /// Throws when the message's spool file cannot be read.
    init(api: SESSendSettings.API, contentType: String, head: [UInt8], content: [MessagePiece], formEncoded: Bool, tail: [UInt8]) throws(SpoolError) {
        self.api = api
        self.contentType = contentType
        self.head = head
        self.content = content
        self.formEncoded = formEncoded
        self.tail = tail
        var hasher = SigV4.PayloadHasher()
        var length = 0
        let inMemory = content.allSatisfy { if case .bytes = $0 { true } else { false } }
        var encoded: [UInt8] = []
        let reader = SESBodyReader(self)
        try withUnsafeTemporaryAllocation(byteCount: SESBodyReader.blockBytes * 2, alignment: 1) { buffer in
            Result { () throws(SpoolError) in
                while case let count = try reader.next(into: buffer), count > 0 {
                    let block = UnsafeRawBufferPointer(rebasing: buffer[..<count])
                    hasher.update(block)
                    length += count
                    if inMemory { encoded.append(contentsOf: block) }
                }
            }
        }.get()
        self.length = length
        self.payloadSHA256 = hasher.hex()
        self.encoded = inMemory ? encoded : nil
    }

    func makeReader() -> any HTTPBodyReader { SESBodyReader(self) }

    enum Problem: Error, Equatable {
        case header(LiftedSESHeaders.Problem)
        case spool(SpoolError)
    }

    /// v1 sends the message as received; v2 first lifts the `X-SES-*` headers it would ignore.
    /// `trace`: the Received header, sent in front of the message.
    static func make(
        envelope: Envelope, trace: ByteBuffer? = nil, message: MessageBody, settings: SESSendSettings
    ) throws(Problem) -> SESSendRequest {
        let trace: [MessagePiece] = trace.map { [.bytes($0)] } ?? []
        let lifted: (headers: LiftedSESHeaders, pieces: [MessagePiece])?
        do {
            lifted = settings.api == .v2 ? try LiftedSESHeaders.lift(from: message) : nil
        } catch {
            throw .header(error)
        }
        let parameters = SESMessageParameters(settings: settings, lifted: lifted?.headers)
        do throws(SpoolError) {
            switch settings.api {
            case .v1:
                return try SESSendRequest(
                    api: .v1, contentType: SigV4.formContentType,
                    head: SendRawEmailBody.head(envelope: envelope, settings: settings, parameters: parameters),
                    content: trace + message.pieces, formEncoded: true, tail: [])
            case .v2:
                return try SESSendRequest(
                    api: .v2, contentType: "application/json", head: Array(#"{"Content":{"Raw":{"Data":""#.utf8),
                    content: trace + (lifted?.pieces ?? message.pieces), formEncoded: false,
                    tail: SendEmailBody.tail(envelope: envelope, settings: settings, parameters: parameters))
            }
        } catch {
            throw .spool(error)
        }
    }
}

/// Produces a `SESSendRequest`'s bytes in order: the head, the content in base64 a block at a time,
/// the tail. Used by one thread at a time (curl's, or `make`'s).
final class SESBodyReader: HTTPBodyReader {
    /// Raw bytes per block: a multiple of 3, so that only the last block can end in padding.
    static let blockBytes = 48 * 1024

    private enum Stage { case head, content, tail, done }

    private let request: SESSendRequest
    private var unread: [MessagePiece]
    /// How far into `unread[0]` reading has gone.
    private var offset = 0
    private var stage = Stage.head
    private var raw: [UInt8] = []
    private var pending: [UInt8] = []
    private var pendingSent = 0

    init(_ request: SESSendRequest) {
        self.request = request
        self.unread = request.content
    }

    func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int { try next(into: buffer) }

    func next(into buffer: UnsafeMutableRawBufferPointer) throws(SpoolError) -> Int {
        guard let destination = buffer.baseAddress else { return 0 }
        var written = 0
        while written < buffer.count {
            if pendingSent == pending.count, try !refill() { break }
            let count = min(buffer.count - written, pending.count - pendingSent)
            pending.withUnsafeBytes { source in
                (destination + written).copyMemory(from: source.baseAddress! + pendingSent, byteCount: count)
            }
            written += count
            pendingSent += count
        }
        return written
    }

    /// The next part of the body into `pending`; false once there is none.
    private func refill() throws(SpoolError) -> Bool {
        pending.removeAll(keepingCapacity: true)
        pendingSent = 0
        while pending.isEmpty {
            switch stage {
            case .head:
                pending.append(contentsOf: request.head)
                stage = .content
            case .content:
                raw.removeAll(keepingCapacity: true)
                while raw.count < Self.blockBytes, !unread.isEmpty {
                    let wanted = min(Self.blockBytes - raw.count, unread[0].length - offset)
                    switch unread[0] {
                    case .bytes(let buffer):
                        buffer.withUnsafeReadableBytes { bytes in
                            raw.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[offset..<offset + wanted]))
                        }
                    case .file(let spooled):
                        let start = raw.count
                        raw.append(contentsOf: repeatElement(0, count: wanted))
                        // Short only past the end, and `wanted` stops at it.
                        _ = try raw.withUnsafeMutableBytes { bytes in
                            Result { () throws(SpoolError) in
                                try spooled.read(into: UnsafeMutableRawBufferPointer(rebasing: bytes[start...]), at: offset)
                            }
                        }.get()
                    }
                    offset += wanted
                    if offset == unread[0].length {
                        unread.removeFirst()
                        offset = 0
                    }
                }
                if unread.isEmpty { stage = .tail }
                raw.withUnsafeBytes { Base64.append(&pending, $0, formEncoded: request.formEncoded) }
            case .tail:
                pending.append(contentsOf: request.tail)
                stage = .done
            case .done:
                return false
            }
        }
        return true
    }
}

/// The form fields of SES v1 `SendRawEmail` (query protocol, version 2010-12-01) up to the raw
/// message, which follows as `RawMessage.Data`.
enum SendRawEmailBody {
    static func head(envelope: Envelope, settings: SESSendSettings, parameters: SESMessageParameters) -> [UInt8] {
        var fields: [(String, String)] = []
        if !envelope.sender.isEmpty { fields.append(("Source", envelope.sender)) }
        for (index, recipient) in envelope.recipients.enumerated() {
            fields.append(("Destinations.member.\(index + 1)", recipient))
        }
        if let name = parameters.configurationSetName { fields.append(("ConfigurationSetName", name)) }
        for (index, tag) in parameters.tags.enumerated() {
            fields.append(("Tags.member.\(index + 1).Name", tag.name))
            fields.append(("Tags.member.\(index + 1).Value", tag.value))
        }
        if let arn = settings.sourceARN { fields.append(("SourceArn", arn)) }
        if let arn = settings.fromARN { fields.append(("FromArn", arn)) }
        if let arn = settings.returnPathARN { fields.append(("ReturnPathArn", arn)) }
        var out = Array("Action=SendRawEmail&Version=2010-12-01".utf8)
        for (name, value) in fields {
            out.append(contentsOf: "&\(name)=\(SigV4.uriEncode(value, encodeSlash: true))".utf8)
        }
        out.append(contentsOf: "&RawMessage.Data=".utf8)
        return out
    }
}

/// The JSON of SESv2 `SendEmail` with raw content (POST /v2/email/outbound-emails) after the raw
/// data. Every envelope recipient goes in `ToAddresses`: with raw content the Destination is the
/// envelope, and the headers alone decide what readers see, as with v1's Destinations.
enum SendEmailBody {
    static func tail(envelope: Envelope, settings: SESSendSettings, parameters: SESMessageParameters) -> [UInt8] {
        var out = Array(#""}},"Destination":{"ToAddresses":["#.utf8)
        for (index, recipient) in envelope.recipients.enumerated() {
            if index > 0 { out.append(UInt8(ascii: ",")) }
            JSONString.append(&out, recipient)
        }
        out.append(contentsOf: "]}".utf8)
        func member(_ name: String, _ value: String?) {
            guard let value else { return }
            out.append(contentsOf: ",\"\(name)\":".utf8)
            JSONString.append(&out, value)
        }
        member("FromEmailAddress", envelope.sender.isEmpty ? nil : envelope.sender)
        member("FromEmailAddressIdentityArn", settings.v2FromIdentityARN)
        member("FeedbackForwardingEmailAddressIdentityArn", settings.v2FeedbackIdentityARN)
        member("ConfigurationSetName", parameters.configurationSetName)
        if !parameters.tags.isEmpty {
            out.append(contentsOf: #","EmailTags":["#.utf8)
            for (index, tag) in parameters.tags.enumerated() {
                if index > 0 { out.append(UInt8(ascii: ",")) }
                out.append(contentsOf: #"{"Name":"#.utf8)
                JSONString.append(&out, tag.name)
                out.append(contentsOf: #","Value":"#.utf8)
                JSONString.append(&out, tag.value)
                out.append(UInt8(ascii: "}"))
            }
            out.append(UInt8(ascii: "]"))
        }
        out.append(UInt8(ascii: "}"))
        return out
    }
}

/// A JSON string literal (RFC 8259 §7): quotes, backslashes and control characters escaped, the
/// rest as UTF-8.
enum JSONString {
    static func append(_ out: inout [UInt8], _ text: String) {
        let hex = Array("0123456789abcdef".utf8)
        out.append(UInt8(ascii: "\""))
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"):
                out.append(UInt8(ascii: "\\"))
                out.append(byte)
            case 0..<0x20:
                out.append(contentsOf: Array(#"\u00"#.utf8) + [hex[Int(byte >> 4)], hex[Int(byte & 0x0F)]])
            default:
                out.append(byte)
            }
        }
        out.append(UInt8(ascii: "\""))
    }
}

/// Base64 (RFC 4648, padded). `formEncoded`: with `+`, `/` and `=` percent-encoded for a form body.
/// Every octet of a message goes through here twice (once for the signed hash, once to send it), so
/// it writes through a pointer into room reserved for the worst case, not one append at a time.
enum Base64 {
    private static let alphabet: [UInt8] = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)

    /// Per sextet, and for padding (index 64), what a form body gets: up to three octets, little
    /// endian, with their count in the top byte.
    private static let formSymbols: [UInt32] = (alphabet + [UInt8(ascii: "=")]).map { symbol in
        switch symbol {
        case UInt8(ascii: "+"): 3 << 24 | 0x42_32_25  // %2B
        case UInt8(ascii: "/"): 3 << 24 | 0x46_32_25  // %2F
        case UInt8(ascii: "="): 3 << 24 | 0x44_33_25  // %3D
        default: 1 << 24 | UInt32(symbol)
        }
    }

    static func append(_ out: inout [UInt8], _ bytes: UnsafeRawBufferPointer, formEncoded: Bool) {
        let symbols = (bytes.count + 2) / 3 * 4
        let start = out.count
        // Percent-encoding turns a symbol into at most three octets; each form symbol is stored as
        // four, so one more octet of room for the last.
        out.append(contentsOf: repeatElement(0, count: formEncoded ? symbols * 3 + 1 : symbols))
        let written = out.withUnsafeMutableBufferPointer { buffer in
            let destination = buffer.baseAddress! + start
            return formEncoded
                ? formSymbols.withUnsafeBufferPointer { encodeForm(bytes, table: $0, into: destination) }
                : alphabet.withUnsafeBufferPointer { encode(bytes, table: $0, into: destination) }
        }
        out.removeLast(out.count - start - written)
    }

    /// The sextets of `bytes`, 64 for padding, handed to `emit` in order.
    @inline(__always)
    private static func sextets(_ bytes: UnsafeRawBufferPointer, _ emit: (Int) -> Void) {
        var index = 0
        let count = bytes.count
        while index + 3 <= count {
            let a = Int(bytes[index]), b = Int(bytes[index + 1]), c = Int(bytes[index + 2])
            emit(a >> 2)
            emit((a & 0x03) << 4 | b >> 4)
            emit((b & 0x0F) << 2 | c >> 6)
            emit(c & 0x3F)
            index += 3
        }
        switch count - index {
        case 1:
            let a = Int(bytes[index])
            emit(a >> 2)
            emit((a & 0x03) << 4)
            emit(64)
            emit(64)
        case 2:
            let a = Int(bytes[index]), b = Int(bytes[index + 1])
            emit(a >> 2)
            emit((a & 0x03) << 4 | b >> 4)
            emit((b & 0x0F) << 2)
            emit(64)
        default:
            break
        }
    }

    private static func encode(_ bytes: UnsafeRawBufferPointer, table: UnsafeBufferPointer<UInt8>, into out: UnsafeMutablePointer<UInt8>) -> Int {
        var written = 0
        sextets(bytes) { sextet in
            out[written] = sextet == 64 ? UInt8(ascii: "=") : table[sextet]
            written += 1
        }
        return written
    }

    private static func encodeForm(_ bytes: UnsafeRawBufferPointer, table: UnsafeBufferPointer<UInt32>, into out: UnsafeMutablePointer<UInt8>) -> Int {
        var written = 0
        let raw = UnsafeMutableRawPointer(out)
        sextets(bytes) { sextet in
            let entry = table[sextet]
            raw.storeBytes(of: entry.littleEndian, toByteOffset: written, as: UInt32.self)
            written += Int(entry >> 24)
        }
        return written
    }
}
