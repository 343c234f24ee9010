import NIOCore
import Shared
import SMTPCore

/// The body of one send, built once per message and signed again for each attempt.
struct SESSendRequest: Sendable {
    var api: SESSendSettings.API
    var contentType: String
    var body: [UInt8]

    /// v1 sends the message as received; v2 first lifts the `X-SES-*` headers it would ignore.
    static func make(envelope: Envelope, message: ByteBuffer, settings: SESSendSettings) throws(LiftedSESHeaders.Problem) -> SESSendRequest {
        switch settings.api {
        case .v1:
            let parameters = SESMessageParameters(settings: settings, lifted: nil)
            return SESSendRequest(
                api: .v1, contentType: SigV4.formContentType,
                body: SendRawEmailBody.make(envelope: envelope, message: message, settings: settings, parameters: parameters))
        case .v2:
            let lifted = try LiftedSESHeaders.lift(from: message)
            let parameters = SESMessageParameters(settings: settings, lifted: lifted?.headers)
            return SESSendRequest(
                api: .v2, contentType: "application/json",
                body: SendEmailBody.make(envelope: envelope, message: lifted?.message ?? message, settings: settings, parameters: parameters))
        }
    }
}

/// The form body of SES v1 `SendRawEmail` (query protocol, version 2010-12-01). The raw message is
/// base64-encoded and percent-encoded in one pass, since it is most of the request.
enum SendRawEmailBody {
    static func make(envelope: Envelope, message: ByteBuffer, settings: SESSendSettings, parameters: SESMessageParameters) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(message.readableBytes * 4 / 3 * 106 / 100 + 1024)
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
        out.append(contentsOf: "Action=SendRawEmail&Version=2010-12-01".utf8)
        for (name, value) in fields {
            out.append(contentsOf: "&\(name)=\(SigV4.uriEncode(value, encodeSlash: true))".utf8)
        }
        out.append(contentsOf: "&RawMessage.Data=".utf8)
        message.withUnsafeReadableBytes { Base64.append(&out, $0, formEncoded: true) }
        return out
    }
}

/// The JSON body of SESv2 `SendEmail` with raw content (POST /v2/email/outbound-emails). Every
/// envelope recipient goes in `ToAddresses`: with raw content the Destination is the envelope, and
/// the headers alone decide what readers see, as with v1's Destinations.
enum SendEmailBody {
    static func make(envelope: Envelope, message: ByteBuffer, settings: SESSendSettings, parameters: SESMessageParameters) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(message.readableBytes * 4 / 3 + 1024)
        out.append(contentsOf: #"{"Content":{"Raw":{"Data":""#.utf8)
        message.withUnsafeReadableBytes { Base64.append(&out, $0, formEncoded: false) }
        out.append(contentsOf: #""}},"Destination":{"ToAddresses":["#.utf8)
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
enum Base64 {
    private static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)

    static func append(_ out: inout [UInt8], _ bytes: UnsafeRawBufferPointer, formEncoded: Bool) {
        func emit(_ sextet: UInt8) {
            let symbol = alphabet[Int(sextet)]
            switch symbol {
            case UInt8(ascii: "+") where formEncoded: out.append(contentsOf: [0x25, 0x32, 0x42])  // %2B
            case UInt8(ascii: "/") where formEncoded: out.append(contentsOf: [0x25, 0x32, 0x46])  // %2F
            default: out.append(symbol)
            }
        }
        func pad() {
            if formEncoded { out.append(contentsOf: [0x25, 0x33, 0x44]) } else { out.append(UInt8(ascii: "=")) }  // %3D
        }
        var index = 0
        while index + 3 <= bytes.count {
            let a = bytes[index], b = bytes[index + 1], c = bytes[index + 2]
            emit(a >> 2)
            emit((a & 0x03) << 4 | b >> 4)
            emit((b & 0x0F) << 2 | c >> 6)
            emit(c & 0x3F)
            index += 3
        }
        switch bytes.count - index {
        case 1:
            let a = bytes[index]
            emit(a >> 2)
            emit((a & 0x03) << 4)
            pad()
            pad()
        case 2:
            let a = bytes[index], b = bytes[index + 1]
            emit(a >> 2)
            emit((a & 0x03) << 4 | b >> 4)
            emit((b & 0x0F) << 2)
            pad()
        default:
            break
        }
    }
}
