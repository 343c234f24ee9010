import NIOCore
import Testing

@testable import Shared

struct IPCCodecTests {
    static let credentials = SESCredentials(
        accessKeyID: "AKIDEXAMPLE", sessionToken: "token", region: "eu-west-1", expiration: 1_900_000_000,
        signingKeys: [SigningKey(date: "20261125", key: Array(repeating: 7, count: 32))])

    static func roundTrip(_ frame: IPCFrame) throws -> IPCFrame? {
        var wire = ByteBuffer()
        try IPCFrameEncoder.encodeFrame(frame, into: &wire)
        return try IPCFrameDecoder.decodeFrame(from: &wire)
    }

    @Test func agentRepliesRoundTrip() throws {
        for reply in [AgentReply.credentials(Self.credentials), .unavailable(retryAfterSeconds: 5)] {
            let frame = try #require(try Self.roundTrip(reply.frame(requestID: 42)))
            #expect(frame.requestID == 42)
            #expect(try AgentReply(frame: frame) == reply)
        }
    }

    @Test func controlMessagesRoundTrip() throws {
        let messages: [ControlMessage] = [
            .ready, .metric(.sendSuccess, delta: 3), .metric(.sendFailure(.throttled), delta: 1),
            .credentialStatus(expiration: nil), .credentialStatus(expiration: 1_900_000_000),
        ]
        for message in messages {
            let frame = try #require(try Self.roundTrip(message.frame))
            #expect(try ControlMessage(frame: frame) == message)
        }
    }

    @Test func credentialsDescriptionRedactsSecrets() {
        let text = "\(Self.credentials)"
        #expect(!text.contains("AKIDEXAMPLE"))
        #expect(!text.contains("token"))
    }

    @Test func partialFrameWaitsForMoreBytes() throws {
        var wire = ByteBuffer()
        try IPCFrameEncoder.encodeFrame(ControlMessage.ready.frame, into: &wire)
        for length in 0..<wire.readableBytes {
            var partial = wire.getSlice(at: 0, length: length) ?? ByteBuffer()
            #expect(try IPCFrameDecoder.decodeFrame(from: &partial) == nil)
        }
    }

    @Test func oversizeFrameIsRejected() {
        var wire = ByteBuffer()
        wire.writeInteger(UInt32(IPC.maxFrame + 1))
        #expect(throws: IPCError(.oversize, "frame of \(IPC.maxFrame + 1) bytes")) { try IPCFrameDecoder.decodeFrame(from: &wire) }
    }

    @Test func unknownVersionIsRejected() {
        var wire = ByteBuffer()
        wire.writeInteger(UInt32(6))
        wire.writeInteger(UInt8(2))
        wire.writeInteger(UInt8(1))
        wire.writeInteger(UInt32(0))
        #expect { try IPCFrameDecoder.decodeFrame(from: &wire) } throws: { ($0 as? IPCError)?.code == .unknownVersion }
    }

    @Test func unknownKindIsRejected() {
        let frame = IPCFrame(kind: 0x7F, body: ByteBuffer())
        #expect { try ControlMessage(frame: frame) } throws: { ($0 as? IPCError)?.code == .unknownKind }
        #expect { try AgentReply(frame: frame) } throws: { ($0 as? IPCError)?.code == .unknownKind }
        #expect { try AgentRequest(frame: frame) } throws: { ($0 as? IPCError)?.code == .unknownKind }
    }

    @Test func trailingBytesAreRejected() {
        var frame = ControlMessage.ready.frame
        frame.body.writeInteger(UInt8(0))
        #expect { try ControlMessage(frame: frame) } throws: { ($0 as? IPCError)?.code == .trailingBytes }
    }

    @Test func truncatedBodyIsRejected() {
        var frame = AgentReply.credentials(Self.credentials).frame(requestID: 1)
        frame.body = frame.body.getSlice(at: frame.body.readerIndex, length: frame.body.readableBytes - 5) ?? ByteBuffer()
        #expect { try AgentReply(frame: frame) } throws: { ($0 as? IPCError)?.code == .invalidField || ($0 as? IPCError)?.code == .truncated }
    }

    @Test func signingKeyOfWrongLengthIsRejected() {
        var bad = Self.credentials
        bad.signingKeys = [SigningKey(date: "20261125", key: [1, 2, 3])]
        let frame = AgentReply.credentials(bad).frame(requestID: 1)
        #expect { try AgentReply(frame: frame) } throws: { ($0 as? IPCError)?.code == .invalidField }
    }

    @Test func unknownFailureTypeIsRejected() {
        var body = ByteBuffer()
        body.writeInteger(UInt8(2))
        body.writeInteger(UInt8(200))
        body.writeInteger(UInt32(1))
        let frame = IPCFrame(kind: 0x02, body: body)
        #expect { try ControlMessage(frame: frame) } throws: { ($0 as? IPCError)?.code == .invalidField }
    }
}
