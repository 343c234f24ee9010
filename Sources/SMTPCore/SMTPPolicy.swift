/// Which senders and recipients this relay takes (`--allow-sender`, `--deny-recipient`). A pattern is
/// searched for in the address, as grep does (anchor it with `^…$`); addresses are compared as the
/// client wrote them, so `(?i)` makes a pattern ignore case.
package struct SMTPPolicy: Sendable {
    package var allowedSenders: AddressPattern?
    package var deniedRecipients: AddressPattern?

    package init(allowedSenders: AddressPattern? = nil, deniedRecipients: AddressPattern? = nil) {
        self.allowedSenders = allowedSenders
        self.deniedRecipients = deniedRecipients
    }

    package func allows(sender: String) -> Bool { allowedSenders?.matches(sender) ?? true }
    package func allows(recipient: String) -> Bool { !(deniedRecipients?.matches(recipient) ?? false) }
}

/// A compiled regular expression shared by every session. `Regex` is not declared Sendable because
/// its output type may not be; this one's output is never kept, and the compiled program is built
/// here, before sharing, and only read after.
package final class AddressPattern: @unchecked Sendable {
    package let source: String
    private let regex: Regex<AnyRegexOutput>

    package init(_ source: String) throws {
        self.source = source
        regex = try Regex(source)
        _ = try? regex.firstMatch(in: "")
    }

    package func matches(_ address: String) -> Bool {
        (try? regex.firstMatch(in: address)) != nil
    }
}

/// Why a session refused a client, a sender or a recipient; counted by the worker.
package enum PolicyRefusal: Equatable, Sendable {
    case sender
    case recipient
}
