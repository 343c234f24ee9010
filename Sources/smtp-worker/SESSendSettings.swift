import Shared

/// Which SES API carries a message, and what every request adds to it: from the command line.
struct SESSendSettings: Sendable, Equatable {
    enum API: String, Sendable {
        /// SendRawEmail, query protocol (the original's).
        case v1
        /// SESv2 SendEmail with `Content.Raw`, REST JSON.
        case v2
    }

    var api: API = .v1
    var configurationSetName: String?
    var tags: [SESMessageTag] = []
    var sourceARN: String?
    var fromARN: String?
    var returnPathARN: String?

    /// v2 has no SourceArn: its From identity stands for both, as SourceArn does in v1 (SES-FACTS §1).
    var v2FromIdentityARN: String? { fromARN ?? sourceARN }
    var v2FeedbackIdentityARN: String? { returnPathARN ?? sourceARN }
}

/// What one message adds to the settings: with v2, the `X-SES-*` headers SES would ignore.
struct SESMessageParameters: Equatable {
    var configurationSetName: String?
    var tags: [SESMessageTag]

    /// The message's own configuration set wins over the default; a tag it names replaces the default
    /// tag of that name, and the others are kept.
    init(settings: SESSendSettings, lifted: LiftedSESHeaders?) {
        configurationSetName = lifted?.configurationSetName ?? settings.configurationSetName
        let own = lifted?.tags ?? []
        tags = settings.tags.filter { tag in !own.contains { $0.name == tag.name } } + own
    }
}
