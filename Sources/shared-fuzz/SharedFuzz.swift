// libFuzzer entry point over what the processes read from each other and from the network outside
// SMTP: the IPC frame decoder and every message decoded from a frame (a compromised worker writes
// to the agent and the supervisor), the XML reader for SES v1 and STS answers, endpoint URLs,
// client allow-lists, message tags, and the credential agent's documents (Vault's JSON, the metadata
// services' and credential_process's JSON, STS's XML). The first input byte picks the decoder. Properties: no
// crash, bounded work, and whatever decodes encodes back to the same value.
import CredentialDocuments
import NIOCore
import Shared

#if canImport(Glibc)
import Glibc
#endif

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ input: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    guard let data = input, size > 0 else { return 0 }
    let bytes = Array(UnsafeBufferPointer(start: data + 1, count: size - 1))
    switch data[0] % 5 {
    case 0: fuzzIPC(bytes)
    case 1: fuzzXML(bytes)
    case 2: fuzzEndpoint(String(decoding: bytes, as: UTF8.self))
    case 3: fuzzLists(String(decoding: bytes, as: UTF8.self))
    default: fuzzCredentialDocuments(bytes)
    }
    return 0
}

private func fuzzIPC(_ bytes: [UInt8]) {
    var stream = ByteBuffer(bytes: bytes)
    var frames = 0
    while let frame = try? IPCFrameDecoder.decodeFrame(from: &stream) {
        frames += 1
        precondition(frames <= bytes.count / 4, "more frames than the bytes can hold")
        if let request = try? AgentRequest(frame: frame) {
            precondition((try? AgentRequest(frame: request.frame(requestID: frame.requestID))) == request, "request round trip")
        }
        if let reply = try? AgentReply(frame: frame) {
            precondition((try? AgentReply(frame: reply.frame(requestID: frame.requestID))) == reply, "reply round trip")
        }
        if let message = try? ControlMessage(frame: frame) {
            precondition((try? ControlMessage(frame: message.frame)) == message, "control round trip")
        }
        var encoded = ByteBuffer()
        if (try? IPCFrameEncoder.encodeFrame(frame, into: &encoded)) != nil {
            precondition((try? IPCFrameDecoder.decodeFrame(from: &encoded)) == frame, "frame round trip")
        }
    }
}

private func fuzzXML(_ bytes: [UInt8]) {
    for name in ["MessageId", "Code", "Message", "RequestId", "MaxSendRate", "AccessKeyId", "Expiration"] {
        guard let text = XMLText.first(name, in: bytes) else { continue }
        precondition(text.utf8.count <= bytes.count, "an element longer than the document")
    }
}

private func fuzzEndpoint(_ text: String) {
    guard let endpoint = AWSEndpoint.parse(text) else { return }
    precondition(endpoint.url.hasPrefix("http://") || endpoint.url.hasPrefix("https://"), "scheme")
    precondition(!endpoint.hostHeader.contains("@") && !endpoint.hostHeader.isEmpty, "host")
    precondition(endpoint.path.hasPrefix("/"), "path")
    precondition(AWSEndpoint.parse(endpoint.url) == endpoint, "endpoint round trip")
    let resource = endpoint.appending(path: "v2/email/account")
    precondition(resource.url.hasSuffix(resource.path) && resource.hostHeader == endpoint.hostHeader, "resource")
}

private func fuzzLists(_ text: String) {
    if let list = try? ClientAllowList(parsing: text) {
        for block in list.blocks {
            precondition((try? ClientAllowList(parsing: block.description))?.blocks == [block], "CIDR round trip")
        }
    }
    if let tags = SESMessageTag.parseList(text) {
        precondition(SESMessageTag.parseList(tags.map(\.text).joined(separator: ",")) == tags, "tags round trip")
    }
}

/// Whatever credentials come out have both keys, durations that the renewal arithmetic can add to
/// a clock, and a description that never shows a key.
private func fuzzCredentialDocuments(_ bytes: [UInt8]) {
    let now: Int64 = 1_800_000_000
    let durations: ClosedRange<Int64> = 0...Int64(Int32.max)
    func checked(_ credentials: BaseCredentials) {
        precondition(!credentials.accessKeyID.isEmpty && !credentials.secretAccessKey.isEmpty, "credentials without keys")
        precondition(credentials.description == "BaseCredentials(source: \(credentials.source), accessKeyID: <redacted>)", "description")
    }
    if let answer = VaultAnswer.decode(bytes) {
        if let token = try? VaultToken.issued(by: answer, now: now, what: "fuzz") {
            precondition(durations.contains(token.ttl) && token.value.utf8.allSatisfy { $0 > 0x20 && $0 < 0x7F }, "token")
        }
        if let token = try? VaultToken.lookedUp("t", answer: answer, now: now, what: "fuzz") {
            precondition(durations.contains(token.ttl), "token ttl")
        }
        if let secret = try? VaultSecret.read(from: answer, now: now, what: "fuzz") {
            precondition(durations.contains(secret.leaseDuration), "lease")
            checked(secret.credentials(source: "vault"))
            if let renewed = try? secret.renewed(by: answer, now: now + 1, what: "fuzz") {
                precondition(renewed.accessKeyID == secret.accessKeyID && durations.contains(renewed.leaseDuration), "renewal")
            }
        }
    }
    for fromProcess in [false, true] {
        if let credentials = try? CredentialsJSON.credentials(from: bytes, source: "imds", fromProcess: fromProcess) {
            checked(credentials)
        }
    }
    if let assumed = try? AssumedCredentials(parsing: bytes, source: "role") {
        checked(assumed.credentials)
        precondition(assumed.credentials.sessionToken != nil && assumed.credentials.expiration != nil, "assumed")
    }
}

#if FUZZING
@_silgen_name("LLVMFuzzerRunDriver")
func runFuzzerDriver(
    _ argc: UnsafeMutablePointer<CInt>,
    _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>>,
    _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt
) -> CInt
#endif

@main
enum SharedFuzz {
    static func main() {
        #if FUZZING
        var argc = CommandLine.argc
        var argv = CommandLine.unsafeArgv
        exit(runFuzzerDriver(&argc, &argv) { fuzzOneInput($0, $1) })
        #else
        print("shared-fuzz: build with `make fuzz` (swift build -Xswiftc -sanitize=fuzzer -Xswiftc -DFUZZING)")
        #endif
    }
}
