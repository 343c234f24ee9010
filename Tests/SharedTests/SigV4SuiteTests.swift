import Foundation
import Testing

@testable import Shared

/// The AWS "Signature Version 4 Test Suite" (Tests/Fixtures/sigv4-suite, Apache-2.0): for every case
/// that applies to a header signer, the canonical request, string to sign and Authorization header
/// must match byte for byte.
struct SigV4SuiteTests {
    static let suite = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../Fixtures/sigv4-suite").standardized
    static let secret = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"

    /// post-sts-header-after adds the token after signing; SES needs it signed, so we never do that.
    static let notApplicable: Set<String> = ["post-sts-header-after"]

    static var cases: [String] {
        let enumerator = FileManager.default.enumerator(atPath: suite.path)
        var names: [String] = []
        while let path = enumerator?.nextObject() as? String {
            guard path.hasSuffix(".req") else { continue }
            let name = (path as NSString).lastPathComponent.replacingOccurrences(of: ".req", with: "")
            if !notApplicable.contains(name) { names.append((path as NSString).deletingPathExtension) }
        }
        return names.sorted()
    }

    @Test func suiteIsPresent() {
        #expect(Self.cases.count >= 28)
    }

    @Test(arguments: cases)
    func signerMatchesSuite(_ casePath: String) throws {
        let base = Self.suite.appendingPathComponent(casePath).path
        let raw = try String(contentsOfFile: base + ".req", encoding: .utf8)
        let request = try #require(ParsedRequest(raw))
        let amzDate = try #require(request.signing.headers.first { $0.name.lowercased() == "x-amz-date" }?.value)
        let scope = SigV4.Scope(date: String(amzDate.prefix(8)), region: "us-east-1", service: "service")

        let (canonical, _) = SigV4.canonicalRequest(request.signing)
        #expect(canonical == (try String(contentsOfFile: base + ".creq", encoding: .utf8)))
        let toSign = SigV4.stringToSign(canonicalRequest: canonical, amzDate: amzDate, scope: scope)
        #expect(toSign == (try String(contentsOfFile: base + ".sts", encoding: .utf8)))
        let key = SigV4.signingKey(secretAccessKey: Self.secret, date: scope.date, region: "us-east-1", service: "service")
        let authorization = SigV4.authorization(
            for: request.signing, accessKeyID: "AKIDEXAMPLE", signingKey: key, amzDate: amzDate, scope: scope)
        #expect(authorization == (try String(contentsOfFile: base + ".authz", encoding: .utf8)))
    }
}

/// A suite `.req` file: request line, headers (continuation lines are further values of the same
/// header), blank line, body.
struct ParsedRequest {
    var signing: SigV4.Request

    init?(_ raw: String) {
        var lines = raw.components(separatedBy: "\n")
        guard !lines.isEmpty else { return nil }
        let requestLine = lines.removeFirst()
        guard let firstSpace = requestLine.firstIndex(of: " "), let versionStart = requestLine.range(of: " HTTP/", options: .backwards)
        else { return nil }
        let method = String(requestLine[..<firstSpace])
        let target = String(requestLine[requestLine.index(after: firstSpace)..<versionStart.lowerBound])
        let parts = target.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false)
        let query: [(name: String, value: String)] = parts.count > 1
            ? parts[1].split(separator: "&").map { item in
                let pair = item.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
                return (String(pair[0]), pair.count > 1 ? String(pair[1]) : "")
            } : []
        var headers: [(name: String, value: String)] = []
        var bodyLines: [String]?
        for line in lines {
            if bodyLines != nil {
                bodyLines?.append(line)
            } else if line.isEmpty {
                bodyLines = []
            } else if line.first == " " || line.first == "\t", let last = headers.last {
                headers.append((last.name, line))
            } else if let colon = line.firstIndex(of: ":") {
                headers.append((String(line[..<colon]), String(line[line.index(after: colon)...])))
            }
        }
        let body = (bodyLines ?? []).joined(separator: "\n")
        signing = SigV4.Request(
            method: method, path: String(parts[0]), query: query, headers: headers,
            payloadSHA256: SigV4.sha256Hex(Array(body.utf8)))
    }
}
