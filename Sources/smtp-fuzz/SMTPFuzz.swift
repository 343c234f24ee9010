// libFuzzer entry point: SMTPConnection (framer, DATA and BDAT decoding, command parser, session)
// driven by arbitrary client bytes, split into reads as the first input byte says, with SES
// answering at random. Built by `make fuzz` with -sanitize=fuzzer; a crash, a hang or unbounded
// memory is a bug, and the input that found it becomes a unit test.
import NIOCore
import SMTPCore

#if canImport(Glibc)
import Glibc
#endif

/// Senders must start with a–m, recipients must not contain x: both refusal paths are reachable.
/// (Both patterns are constants that compile; were one not to, its refusal path would go unfuzzed.)
private let policy = SMTPPolicy(
    allowedSenders: try? AddressPattern("^[a-m]"), deniedRecipients: try? AddressPattern("x"))

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ input: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    guard let data = input, size > 0 else { return 0 }
    var limits = SMTPLimits()
    limits.maxMessageSize = 4096
    limits.maxRecipients = 5
    // AUTH offered in clear, so the fuzzer reaches the exchange without TLS.
    var connection = SMTPConnection(
        limits: limits, hostname: "fuzz", policy: policy, tls: TLSOffer(startTLS: true),
        auth: AuthOffer(available: true, allowInsecure: true, required: data[0] & 0x80 != 0))
    var attempts = 0
    var relays = 0
    var pending = connection.start()
    let stride = Int(data[0] % 64) + 1
    var offset = 1
    while true {
        while let action = pending.first {
            pending.removeFirst()
            check(action)
            if case .relay = action {
                relays += 1
                let answer = relays % 3 == 0 ? SMTPReply(451, "4.3.0", "try later") : SMTPReply.queued(messageID: "m\(relays)")
                pending += connection.relayFinished(answer)
            }
            if case .authenticate(let attempt) = action {
                attempts += 1
                precondition(!attempt.user.isEmpty, "an AUTH attempt without a user")
                pending += connection.authenticationFinished(attempts % 2 == 0 ? AuthIdentity(user: attempt.user, allowedSenders: policy.allowedSenders) : nil)
            }
        }
        guard offset < size, !connection.isClosed else { return 0 }
        let end = min(size, offset + stride)
        var bytes = ByteBuffer(bytes: UnsafeBufferPointer(start: data + offset, count: end - offset))
        offset = end
        pending = connection.receive(&bytes)
    }
}

private func check(_ action: SMTPConnection.Action) {
    switch action {
    case .send(let reply):
        precondition((200..<600).contains(reply.code), "reply code \(reply.code)")
        let breaks = reply.lines.contains { $0.utf8.contains(UInt8(ascii: "\r")) || $0.utf8.contains(UInt8(ascii: "\n")) }
        precondition(!breaks, "a reply line carries a line break")
    case .relay(let envelope, let message):
        precondition(!envelope.recipients.isEmpty && envelope.recipients.count <= 5, "recipients \(envelope.recipients.count)")
        precondition(message.readableBytes <= 4096, "message over the limit was relayed")
        precondition(policy.allows(sender: envelope.sender), "a refused sender was relayed")
        precondition(envelope.recipients.allSatisfy(policy.allows(recipient:)), "a denied recipient was relayed")
    case .close, .refusedByPolicy, .startTLS, .authenticate, .spoolFailed:
        break
    }
}

#if FUZZING
// libFuzzer's driver, called from our own main: SwiftPM links every executable's entry point as
// `main` (libFuzzer's own main would call LLVMFuzzerTestOneInput just the same).
@_silgen_name("LLVMFuzzerRunDriver")
func runFuzzerDriver(
    _ argc: UnsafeMutablePointer<CInt>,
    _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>>,
    _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt
) -> CInt
#endif

@main
enum SMTPFuzz {
    static func main() {
        #if FUZZING
        // Compile and first-use the patterns now: libFuzzer counts memory a global allocates during an
        // input as that input's leak.
        _ = policy.allows(sender: "a@b.c") && policy.allows(recipient: "x@y.z")
        var argc = CommandLine.argc
        var argv = CommandLine.unsafeArgv
        exit(runFuzzerDriver(&argc, &argv) { fuzzOneInput($0, $1) })
        #else
        print("smtp-fuzz: build with `make fuzz` (swift build -Xswiftc -sanitize=fuzzer -Xswiftc -DFUZZING)")
        #endif
    }
}
