import CredentialDocuments
import Shared

/// Turns the agent's secret into what the worker may hold: signing keys for SES in one region, for
/// today (UTC) and, during the last hour of the day, for tomorrow, so a send at midnight never waits.
enum SigningMaterial {
    static let service = "ses"
    static let tomorrowWindowSeconds: Int64 = 3600

    static func credentials(from base: BaseCredentials, region: String, now: Int64) -> SESCredentials {
        var dates = [UTCTime(epochSeconds: now).dateStamp]
        let secondsIntoDay = ((now % 86_400) + 86_400) % 86_400
        if 86_400 - secondsIntoDay <= tomorrowWindowSeconds {
            dates.append(UTCTime(epochSeconds: now + 86_400).dateStamp)
        }
        let keys = dates.map {
            SigningKey(
                date: $0,
                key: SigV4.signingKey(secretAccessKey: base.secretAccessKey, date: $0, region: region, service: service)
            )
        }
        return SESCredentials(
            accessKeyID: base.accessKeyID,
            sessionToken: base.sessionToken,
            region: region,
            expiration: base.expiration,
            signingKeys: keys
        )
    }
}
