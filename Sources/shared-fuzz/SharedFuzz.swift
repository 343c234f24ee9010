// libFuzzer entry point over what the processes read from each other and from the network outside
// SMTP: the IPC frame decoder and every message decoded from a frame (a compromised worker writes
// to the agent and the supervisor), the XML reader for SES v1 and STS answers, endpoint URLs,
// client allow-lists and message tags. The first input byte picks the decoder. Properties: no
// crash, bounded work, and whatever decodes encodes back to the same value.
import NIOCore
import Shared

#if canImport(Glibc)
import Glibc
#endif

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ input: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    guard let data = input, size > 0 else { return 0 }
    let bytes = Array(UnsafeBufferPointer(start: data + 1, count: size - 1))
    switch data[0] % 4 {
    case 0: fuzzIPC(bytes)
    case 1: fuzzXML(bytes)
    case 2: fuzzEndpoint(String(decoding: bytes, as: UTF8.self))
    default: fuzzLists(String(decoding: bytes, as: UTF8.self))
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
