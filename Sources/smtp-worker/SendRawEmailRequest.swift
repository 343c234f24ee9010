import NIOCore
import Shared
import SMTPCore

/// The form body of SES v1 `SendRawEmail` (query protocol, version 2010-12-01). The raw message is
/// base64-encoded and percent-encoded in one pass, since it is most of the request.
enum SendRawEmailRequest {
    static func body(envelope: Envelope, message: ByteBuffer, configurationSetName: String?) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(message.readableBytes * 4 / 3 * 106 / 100 + 512)
        append(&out, "Action=SendRawEmail&Version=2010-12-01")
        if !envelope.sender.isEmpty {
            append(&out, "&Source=" + SigV4Encoding.encode(envelope.sender))
        }
        for (index, recipient) in envelope.recipients.enumerated() {
            append(&out, "&Destinations.member.\(index + 1)=" + SigV4Encoding.encode(recipient))
        }
        if let configurationSetName {
            append(&out, "&ConfigurationSetName=" + SigV4Encoding.encode(configurationSetName))
        }
        append(&out, "&RawMessage.Data=")
        message.withUnsafeReadableBytes { appendBase64FormEncoded(&out, $0) }
        return out
    }

    private static func append(_ out: inout [UInt8], _ text: String) {
        out.append(contentsOf: text.utf8)
    }

    private static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)

    /// Base64 (RFC 4648, padded), with `+`, `/` and `=` percent-encoded for the form body.
    static func appendBase64FormEncoded(_ out: inout [UInt8], _ bytes: UnsafeRawBufferPointer) {
        func emit(_ sextet: UInt8) {
            let symbol = alphabet[Int(sextet)]
            switch symbol {
            case UInt8(ascii: "+"): out.append(contentsOf: [0x25, 0x32, 0x42])  // %2B
            case UInt8(ascii: "/"): out.append(contentsOf: [0x25, 0x32, 0x46])  // %2F
            default: out.append(symbol)
            }
        }
        let pad: [UInt8] = [0x25, 0x33, 0x44]  // %3D
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
            out.append(contentsOf: pad + pad)
        case 2:
            let a = bytes[index], b = bytes[index + 1]
            emit(a >> 2)
            emit((a & 0x03) << 4 | b >> 4)
            emit((b & 0x0F) << 2)
            out.append(contentsOf: pad)
        default:
            break
        }
    }
}


/// Form values use the same unreserved set as SigV4's URI encoding.
enum SigV4Encoding {
    static func encode(_ value: String) -> String { SigV4.uriEncode(value, encodeSlash: true) }
}
