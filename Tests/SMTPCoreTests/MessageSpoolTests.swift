import NIOCore
import Testing

@testable import SMTPCore

#if canImport(Glibc)
import Glibc
#endif

/// Messages past the spool's memory limit go on in an unnamed file, on a real file system; a spool
/// that cannot be written refuses the message and keeps the session.
struct MessageSpoolTests {
    /// A directory of the test's own, removed at the end: nothing may be left in it.
    final class Directory {
        let path: String

        init() throws {
            var template = Array("/var/tmp/ses-spool-test.XXXXXX".utf8CString)
            let made = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
            path = try #require(made.map { String(cString: $0) })
        }

        var entries: [String] {
            guard let stream = opendir(path) else { return ["<cannot list>"] }
            defer { closedir(stream) }
            var names: [String] = []
            while let entry = readdir(stream) {
                let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
                if name != "." && name != ".." { names.append(name) }
            }
            return names
        }

        deinit { rmdir(path) }
    }

    static let envelope = SMTPConnectionTests.envelope

    /// Every cut of the input gives the message back whole, whether it stays in memory or not.
    @Test(arguments: [0, 1, 5, 16, 90])
    func aMessagePastTheMemoryLimitComesBackWhole(_ memoryLimit: Int) throws {
        let directory = try Directory()
        let spool = MessageSpool.unnamedFiles(in: directory.path, memoryLimit: memoryLimit)
        let text = "Subject: s\r\n\r\n" + String(repeating: "0123456789", count: 7) + "\r\n"
        let message = text + "..dot\r\n"
        let expected = text + ".dot\r\n"
        let input = Self.envelope + "DATA\r\n" + message + ".\r\nQUIT\r\n"
        let whole = SMTPConnectionTests.run(input, spool: spool)
        #expect(whole.relayed == [expected])
        #expect(whole.replies.hasSuffix("250 2.0.0 Ok: queued as m\r\n221 2.0.0 Bye\r\n<close>"))
        for cut in stride(from: 1, to: input.utf8.count, by: 3) {
            #expect(SMTPConnectionTests.run(input, cuts: [cut, cut + 40], spool: spool).relayed == [expected], "cut at \(cut)")
        }
        #expect(directory.entries.isEmpty, "spool files have no name")
    }

    @Test func onlyThePartPastTheLimitIsInTheFile() throws {
        let directory = try Directory()
        var connection = SMTPConnection(
            limits: SMTPConnectionTests.limits, hostname: "relay.test",
            spool: .unnamedFiles(in: directory.path, memoryLimit: 10))
        _ = connection.start()
        var input = ByteBuffer(string: Self.envelope + "DATA\r\n" + "0123456789abcdef\r\n.\r\n")
        let relayed = connection.receive(&input).compactMap { action -> MessageBody? in
            if case .relay(_, let message) = action { message } else { nil }
        }
        let body = try #require(relayed.first)
        #expect(String(buffer: body.head) == "0123456789")
        #expect(body.spooled?.length == 8)
        #expect(body.readableBytes == 18)
        #expect(try body.collected() == Array("0123456789abcdef\r\n".utf8))

        var small = SMTPConnection(
            limits: SMTPConnectionTests.limits, hostname: "relay.test",
            spool: .unnamedFiles(in: directory.path, memoryLimit: 18))
        _ = small.start()
        var same = ByteBuffer(string: Self.envelope + "DATA\r\n" + "0123456789abcdef\r\n.\r\n")
        #expect(small.receive(&same).contains { if case .relay(_, let message) = $0 { message.spooled == nil } else { false } })
    }

    /// /dev/full: every write fails with ENOSPC, as on a full disk.
    @Test func aSpoolThatCannotBeWrittenRefusesTheMessageWith452AndTheSessionGoesOn() throws {
        let full = MessageSpool(memoryLimit: 4) { () throws(SpoolError) -> SpoolFile in
            SpoolFile(descriptor: open("/dev/full", O_WRONLY | O_CLOEXEC))
        }
        let input = Self.envelope + "DATA\r\n" + String(repeating: "x", count: 40) + "\r\n.\r\n"
            + "MAIL FROM:<a@b.c>\r\nRCPT TO:<d@e.f>\r\nDATA\r\nok\r\n.\r\n"
        let result = SMTPConnectionTests.run(input, spool: full)
        #expect(result.relayed == ["ok\r\n"], "the second message fits in memory")
        #expect(result.replies.contains(
            "<spool failed>452 4.3.1 Insufficient system storage for the message; try again later\r\n250 2.1.0 Sender ok"))
        #expect(result.replies.hasSuffix("250 2.0.0 Ok: queued as m\r\n"))
    }

    @Test func aSpoolDirectoryThatIsMissingRefusesTheMessageAndSaysWhy() throws {
        let missing = MessageSpool.unnamedFiles(in: "/nonexistent/spool", memoryLimit: 4)
        #expect(throws: SpoolError(action: "create", errno: ENOENT)) { try missing.open() }
        #expect(SpoolError(action: "create", errno: ENOENT).description == "cannot create the message spool file: No such file or directory")
        let result = SMTPConnectionTests.run(Self.envelope + "DATA\r\n" + String(repeating: "x", count: 40) + "\r\n.\r\n", spool: missing)
        #expect(result.relayed.isEmpty)
        #expect(result.replies.hasSuffix("452 4.3.1 Insufficient system storage for the message; try again later\r\n"))
    }

    @Test func anOversizeMessageLeavesNothingSpooled() throws {
        let directory = try Directory()
        let spool = MessageSpool.unnamedFiles(in: directory.path, memoryLimit: 4)
        let result = SMTPConnectionTests.run(
            Self.envelope + "DATA\r\n" + String(repeating: "x", count: 200) + "\r\n.\r\nNOOP\r\n", spool: spool)
        #expect(result.relayed.isEmpty)
        #expect(result.replies.hasSuffix("552 5.3.4 Message too big for SES\r\n250 2.0.0 Ok\r\n"))
    }
}
