/// The one error type of the IPC layer: framing and message decoding failures, a closed channel or a
/// request that ran out of time. Compare by `code`; `detail` is for logs only.
public struct IPCError: Error, Equatable, CustomStringConvertible {
    public enum Code: Equatable, Sendable {
        case oversize
        case truncated
        case trailingBytes
        case unknownVersion
        case unknownKind
        case invalidField
        case unexpectedMessage
        case channelClosed
        case timeout
    }

    public var code: Code
    public var detail: String

    public init(_ code: Code, _ detail: String) {
        self.code = code
        self.detail = detail
    }

    public var description: String { "IPC \(code): \(detail)" }
}
