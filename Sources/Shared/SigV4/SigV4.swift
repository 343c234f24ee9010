import Crypto

/// AWS Signature Version 4 for header-signed requests. The agent derives signing keys (it alone holds
/// the secret); the worker signs requests with a derived key. Paths are normalised as for every
/// service but S3, and query parameters are sorted after URI-encoding.
public enum SigV4 {
    public static let algorithm = "AWS4-HMAC-SHA256"

    /// kSigning = HMAC(HMAC(HMAC(HMAC("AWS4"+secret, date), region), service), "aws4_request").
    public static func signingKey(secretAccessKey: String, date: String, region: String, service: String) -> [UInt8] {
        var key = SymmetricKey(data: Array(("AWS4" + secretAccessKey).utf8))
        for part in [date, region, service, "aws4_request"] {
            key = SymmetricKey(data: Array(HMAC<SHA256>.authenticationCode(for: Array(part.utf8), using: key)))
        }
        return key.withUnsafeBytes { Array($0) }
    }

    /// A request to sign. `path` and query items are unencoded; headers keep their order of arrival,
    /// and a name given more than once has its values joined with commas, as the suite requires.
    public struct Request: Sendable {
        public var method: String
        public var path: String
        public var query: [(name: String, value: String)]
        public var headers: [(name: String, value: String)]
        public var payloadSHA256: String

        public init(
            method: String,
            path: String,
            query: [(name: String, value: String)] = [],
            headers: [(name: String, value: String)],
            payloadSHA256: String
        ) {
            self.method = method
            self.path = path
            self.query = query
            self.headers = headers
            self.payloadSHA256 = payloadSHA256
        }
    }

    /// Scope of a signature: `date/region/service/aws4_request`.
    public struct Scope: Sendable, Equatable {
        public var date: String
        public var region: String
        public var service: String

        public init(date: String, region: String, service: String) {
            self.date = date
            self.region = region
            self.service = service
        }

        public var string: String { "\(date)/\(region)/\(service)/aws4_request" }
    }

    public static func canonicalRequest(_ request: Request) -> (canonical: String, signedHeaders: String) {
        var merged: [String: [String]] = [:]
        for (name, value) in request.headers {
            merged[name.lowercased(), default: []].append(canonicalHeaderValue(value))
        }
        let names = merged.keys.sorted()
        let headerLines = names.map { "\($0):\(merged[$0, default: []].joined(separator: ","))\n" }.joined()
        let signedHeaders = names.joined(separator: ";")
        let query = canonicalQuery(request.query)
        let canonical = [
            request.method,
            canonicalPath(request.path),
            query,
            headerLines,
            signedHeaders,
            request.payloadSHA256,
        ].joined(separator: "\n")
        return (canonical, signedHeaders)
    }

    static func canonicalQuery(_ items: [(name: String, value: String)]) -> String {
        var encoded: [(name: String, value: String)] = items.map {
            (uriEncode($0.name, encodeSlash: true), uriEncode($0.value, encodeSlash: true))
        }
        encoded.sort { left, right in left.name == right.name ? left.value < right.value : left.name < right.name }
        return encoded.map { "\($0.name)=\($0.value)" }.joined(separator: "&")
    }

    public static func stringToSign(canonicalRequest: String, amzDate: String, scope: Scope) -> String {
        [algorithm, amzDate, scope.string, hex(SHA256.hash(data: Array(canonicalRequest.utf8)))]
            .joined(separator: "\n")
    }

    public static func signature(stringToSign: String, signingKey: [UInt8]) -> String {
        hex(HMAC<SHA256>.authenticationCode(for: Array(stringToSign.utf8), using: SymmetricKey(data: signingKey)))
    }

    /// The `Authorization` header value for `request`, which must already carry `host` and `x-amz-date`
    /// (and `x-amz-security-token` when the credentials are temporary).
    public static func authorization(
        for request: Request,
        accessKeyID: String,
        signingKey: [UInt8],
        amzDate: String,
        scope: Scope
    ) -> String {
        let (canonical, signedHeaders) = canonicalRequest(request)
        let toSign = stringToSign(canonicalRequest: canonical, amzDate: amzDate, scope: scope)
        let signature = signature(stringToSign: toSign, signingKey: signingKey)
        return "\(algorithm) Credential=\(accessKeyID)/\(scope.string), SignedHeaders=\(signedHeaders), Signature=\(signature)"
    }

    /// SHA-256 of a body fed in pieces, in SigV4's lowercase hex.
    public struct PayloadHasher {
        private var hasher = SHA256()

        public init() {}

        public mutating func update(_ bytes: UnsafeRawBufferPointer) { hasher.update(bufferPointer: bytes) }

        public func hex() -> String { SigV4.hex(hasher.finalize()) }
    }

    public static func sha256Hex(_ bytes: some Sequence<UInt8>) -> String {
        hex(SHA256.hash(data: Array(bytes)))
    }

    /// Trimmed, with runs of spaces collapsed to one (SigV4 "canonical header value").
    static func canonicalHeaderValue(_ value: String) -> String {
        var out: [UInt8] = []
        var lastWasSpace = false
        for byte in value.utf8 {
            let isSpace = byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t")
            if isSpace {
                if !lastWasSpace && !out.isEmpty { out.append(UInt8(ascii: " ")) }
            } else {
                out.append(byte)
            }
            lastWasSpace = isSpace
        }
        if out.last == UInt8(ascii: " ") { out.removeLast() }
        return String(decoding: out, as: UTF8.self)
    }

    /// RFC 3986 dot-segment removal and empty-segment collapse, then per-segment encoding.
    static func canonicalPath(_ path: String) -> String {
        var segments: [Substring] = []
        for segment in path.split(separator: "/", omittingEmptySubsequences: true) {
            switch segment {
            case ".": continue
            case "..": _ = segments.popLast()
            default: segments.append(segment)
            }
        }
        if segments.isEmpty { return "/" }
        let encoded = "/" + segments.map { uriEncode(String($0), encodeSlash: true) }.joined(separator: "/")
        return path.hasSuffix("/") ? encoded + "/" : encoded
    }

    /// Percent-encodes everything but RFC 3986 unreserved characters, with upper-case hex.
    public static func uriEncode(_ string: String, encodeSlash: Bool) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(string.utf8.count)
        for byte in string.utf8 {
            if isUnreserved(byte) || (!encodeSlash && byte == UInt8(ascii: "/")) {
                out.append(byte)
            } else {
                out.append(UInt8(ascii: "%"))
                out.append(hexDigits[Int(byte >> 4)])
                out.append(hexDigits[Int(byte & 0x0F)])
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    @inline(__always)
    static func isUnreserved(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"),
            UInt8(ascii: "~"):
            true
        default:
            false
        }
    }

    static let hexDigits = Array("0123456789ABCDEF".utf8)

    static func hex(_ bytes: some Sequence<UInt8>) -> String {
        let lower = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        for byte in bytes {
            out.append(lower[Int(byte >> 4)])
            out.append(lower[Int(byte & 0x0F)])
        }
        return String(decoding: out, as: UTF8.self)
    }
}
