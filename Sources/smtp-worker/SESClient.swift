import FoundationEssentials
import HTTPTransport
import NIOCore
import Shared
import SMTPCore

/// Sends messages to SES (v1 SendRawEmail or v2 SendEmail) and reads the account's sending rate,
/// signed with the derived key the agent handed over. Both go through the HTTP client's transfer
/// thread and answer on an event loop; no worker thread blocks on SES. The HTTP client reuses
/// connections across calls.
final class SESClient: Sendable {
    private let http: HTTPClient
    private let endpointOverride: [String: String]
    let settings: SESSendSettings

    init(http: HTTPClient, environment: [String: String], settings: SESSendSettings) {
        self.http = http
        self.endpointOverride = environment.filter { $0.key.hasPrefix("AWS_ENDPOINT_URL") }
        self.settings = settings
    }

    struct Accepted: Equatable {
        var messageID: String
        var requestID: String?
    }

    func prepare(envelope: Envelope, trace: ByteBuffer?, message: MessageBody) -> Result<SESSendRequest, SESFailure> {
        do {
            return .success(try SESSendRequest.make(envelope: envelope, trace: trace, message: message, settings: settings))
        } catch {
            switch error {
            case .header(let problem): return .failure(.unliftableHeader(problem))
            case .spool(let error): return .failure(.transport(code: "spool", requestSent: false, detail: "\(error)"))
            }
        }
    }

    /// One attempt, which gives up after `timeoutMilliseconds`; the result arrives on `eventLoop`.
    func send(
        _ request: SESSendRequest, credentials: SESCredentials, now: Int64, timeoutMilliseconds: Int, on eventLoop: EventLoop
    ) -> EventLoopFuture<Result<Accepted, SESFailure>> {
        let resource = request.api == .v1 ? nil : "v2/email/outbound-emails"
        let signed = signedRequest(
            method: "POST", resource: resource, contentType: request.contentType, body: request.httpBody,
            payloadSHA256: request.payloadSHA256, credentials: credentials, now: now, timeoutMilliseconds: timeoutMilliseconds)
        let httpRequest: HTTPRequest
        switch signed {
        case .success(let made): httpRequest = made
        case .failure(let failure): return eventLoop.makeSucceededFuture(.failure(failure))
        }
        let api = request.api
        return execute(httpRequest, on: eventLoop).map { answer in
            answer.flatMap { api == .v1 ? Self.interpretV1($0) : Self.interpretV2($0) }
        }
    }

    struct QuotaReadError: Error, CustomStringConvertible {
        var description: String
    }

    /// The account's `MaxSendRate` in recipients per second: v1 `GetSendQuota`, v2 `GetAccount`.
    func maxSendRate(
        credentials: SESCredentials, now: Int64, timeoutMilliseconds: Int, on eventLoop: EventLoop
    ) -> EventLoopFuture<Result<Double, QuotaReadError>> {
        let api = settings.api
        let operation = api == .v1 ? "GetSendQuota" : "GetAccount"
        let form = SigV4.formBody([("Action", "GetSendQuota"), ("Version", "2010-12-01")])
        let signed = api == .v1
            ? signedRequest(
                method: "POST", resource: nil, contentType: SigV4.formContentType, body: .bytes(form),
                payloadSHA256: SigV4.sha256Hex(form), credentials: credentials, now: now, timeoutMilliseconds: timeoutMilliseconds)
            : signedRequest(
                method: "GET", resource: "v2/email/account", contentType: nil, body: .bytes([]),
                payloadSHA256: SigV4.sha256Hex([]), credentials: credentials, now: now, timeoutMilliseconds: timeoutMilliseconds)
        let httpRequest: HTTPRequest
        switch signed {
        case .success(let made): httpRequest = made
        case .failure(let failure): return eventLoop.makeSucceededFuture(.failure(QuotaReadError(description: "\(operation): \(failure)")))
        }
        return execute(httpRequest, on: eventLoop).map { answer in
            answer
                .mapError { QuotaReadError(description: "\(operation): \($0)") }
                .flatMap { Self.interpretSendRate($0, api: api, operation: operation) }
        }
    }

    private static func interpretSendRate(
        _ response: HTTPResponse, api: SESSendSettings.API, operation: String
    ) -> Result<Double, QuotaReadError> {
        guard response.status == 200 else {
            let failure = api == .v1 ? v1Error(response) : v2Error(response)
            return .failure(QuotaReadError(description: "\(operation): \(failure)"))
        }
        struct Account: Decodable {
            struct Quota: Decodable { var MaxSendRate: Double }
            var SendQuota: Quota
        }
        let rate = api == .v1
            ? XMLText.first("MaxSendRate", in: response.body).flatMap(Double.init)
            : (try? JSONDecoder().decode(Account.self, from: Data(response.body)))?.SendQuota.MaxSendRate
        guard let rate, rate.isFinite else {
            return .failure(QuotaReadError(description: "\(operation): no MaxSendRate in SES's answer"))
        }
        return .success(rate)
    }

    /// v1 requests go to the endpoint itself; v2 resources below it.
    private func signedRequest(
        method: String,
        resource: String?,
        contentType: String?,
        body: HTTPBody,
        payloadSHA256: String,
        credentials: SESCredentials,
        now: Int64,
        timeoutMilliseconds: Int
    ) -> Result<HTTPRequest, SESFailure> {
        let time = UTCTime(epochSeconds: now)
        guard let key = credentials.signingKey(forDate: time.dateStamp) else {
            return .failure(.credentialsUnavailable("no signing key for \(time.dateStamp)"))
        }
        let endpoint: AWSEndpoint
        do {
            endpoint = try AWSEndpoint.ses(api: settings.api, environment: endpointOverride, region: credentials.region)
        } catch {
            return .failure(.transport(code: "endpoint", requestSent: false, detail: "\(error)"))
        }
        let target = resource.map { endpoint.appending(path: $0) } ?? endpoint
        let headers = SigV4.signedHeaders(
            method: method, endpoint: target, contentType: contentType, payloadSHA256: payloadSHA256,
            accessKeyID: credentials.accessKeyID, signingKey: key.key, sessionToken: credentials.sessionToken, time: time,
            scope: SigV4.Scope(date: time.dateStamp, region: credentials.region, service: "ses"))
        return .success(HTTPRequest(method: method, url: target.url, headers: headers, body: body, timeoutMilliseconds: timeoutMilliseconds))
    }

    /// The answer, or the transport failure as an `SESFailure`, on `eventLoop`.
    private func execute(_ request: HTTPRequest, on eventLoop: EventLoop) -> EventLoopFuture<Result<HTTPResponse, SESFailure>> {
        let promise = eventLoop.makePromise(of: Result<HTTPResponse, HTTPError>.self)
        http.execute(request) { promise.succeed($0) }
        return promise.futureResult.map { answer in
            answer.mapError { .transport(code: "\($0.code)", requestSent: $0.requestSent, detail: $0.detail) }
        }
    }

    /// 200 with a MessageId is the only success; anything else is a failure with SES's code if any.
    static func interpretV1(_ response: HTTPResponse) -> Result<Accepted, SESFailure> {
        guard response.status == 200 else { return .failure(v1Error(response)) }
        guard let messageID = XMLText.first("MessageId", in: response.body), !messageID.isEmpty else {
            return .failure(.missingMessageID(status: response.status))
        }
        return .success(Accepted(messageID: messageID, requestID: XMLText.first("RequestId", in: response.body)))
    }

    /// `{"MessageId": "…"}`; the request id comes in a header.
    static func interpretV2(_ response: HTTPResponse) -> Result<Accepted, SESFailure> {
        guard response.status == 200 else { return .failure(v2Error(response)) }
        struct Answer: Decodable { var MessageId: String? }
        guard let messageID = (try? JSONDecoder().decode(Answer.self, from: Data(response.body)))?.MessageId, !messageID.isEmpty else {
            return .failure(.missingMessageID(status: response.status))
        }
        return .success(Accepted(messageID: messageID, requestID: response.header("x-amzn-requestid")))
    }

    /// Query protocol: `<ErrorResponse><Error><Code>…</Code><Message>…</Message></Error><RequestId>`.
    static func v1Error(_ response: HTTPResponse) -> SESFailure {
        .api(
            status: response.status,
            code: XMLText.first("Code", in: response.body) ?? "",
            message: XMLText.first("Message", in: response.body) ?? "",
            requestID: XMLText.first("RequestId", in: response.body))
    }

    /// REST JSON, as botocore reads it: the code from `x-amzn-ErrorType` (before any `:`), else the
    /// body's `__type` (after any `#`) or `code`; the text from `message` or `Message`.
    static func v2Error(_ response: HTTPResponse) -> SESFailure {
        struct Body: Decodable {
            var __type: String?
            var code: String?
            var message: String?
            var Message: String?
        }
        let body = try? JSONDecoder().decode(Body.self, from: Data(response.body))
        var code = response.header("x-amzn-errortype").map { String($0.prefix { $0 != ":" }) } ?? ""
        if code.isEmpty, let type = body?.__type {
            code = String(type.split(separator: "#").last ?? "")
        }
        if code.isEmpty { code = body?.code ?? "" }
        return .api(
            status: response.status, code: code, message: body?.message ?? body?.Message ?? "",
            requestID: response.header("x-amzn-requestid"))
    }
}

extension AWSEndpoint {
    /// `email.{region}.amazonaws.com` for both APIs, or `AWS_ENDPOINT_URL_SES` / `_SESV2` (the SDKs'
    /// service ids) / `AWS_ENDPOINT_URL`.
    static func ses(api: SESSendSettings.API, environment: [String: String], region: String) throws(Problem) -> AWSEndpoint {
        try resolve(serviceID: api == .v1 ? "SES" : "SESV2", hostPrefix: "email", environment: environment, region: region)
    }
}
