import CCurl
import CCurlShim
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// One HTTP request for `HTTPClient`. `body` is sent with POST/PUT. `timeoutMilliseconds`, when
/// set, replaces the client's total timeout for this request (a caller with a deadline).
public struct HTTPRequest: Sendable {
    public var method: String
    public var url: String
    public var headers: [(name: String, value: String)]
    public var body: HTTPBody
    public var timeoutMilliseconds: Int?

    public init(
        method: String,
        url: String,
        headers: [(name: String, value: String)],
        body: HTTPBody = .bytes([]),
        timeoutMilliseconds: Int? = nil
    ) {
        self.method = method
        self.url = url
        self.headers = headers
        self.body = body
        self.timeoutMilliseconds = timeoutMilliseconds
    }
}

public enum HTTPBody: Sendable {
    case bytes([UInt8])
    /// Made while curl sends it: for a body too large to hold a second copy of (a message in base64).
    case stream(any HTTPBodyStream)
}

/// A body of known length produced in pieces. `makeReader` starts at the first byte; curl asks for
/// a new reader when it rewinds, to send again on a fresh connection.
public protocol HTTPBodyStream: Sendable {
    var length: Int { get }
    func makeReader() -> any HTTPBodyReader
}

public protocol HTTPBodyReader: AnyObject {
    /// Fills `buffer` from its start and returns how many bytes it wrote: fewer than its size only at
    /// the end of the body, 0 once the body is done. Throwing aborts the transfer.
    func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int
}

/// The status, headers and body of an answer. Headers are kept as received and read on demand:
/// most answers are successes whose headers nobody reads, and this is every message's path.
public struct HTTPResponse: Sendable {
    public var status: Int
    /// The header lines, CRLF-separated, status line included.
    public var headerBytes: [UInt8]
    public var body: [UInt8]

    public init(status: Int, headerBytes: [UInt8] = [], body: [UInt8]) {
        self.status = status
        self.headerBytes = headerBytes
        self.body = body
    }

    /// For tests and fixtures: headers given as pairs.
    public init(status: Int, headers: [(name: String, value: String)], body: [UInt8]) {
        self.init(status: status, headerBytes: Array(headers.map { "\($0.name): \($0.value)\r\n" }.joined().utf8), body: body)
    }

    /// The first header called `name` (case-insensitive), value trimmed.
    public func header(_ name: String) -> String? {
        let wanted = name.lowercased()
        for line in headerBytes.split(separator: UInt8(ascii: "\n")) {
            guard let colon = line.firstIndex(of: UInt8(ascii: ":")) else { continue }
            guard String(decoding: line[..<colon], as: UTF8.self).lowercased() == wanted else { continue }
            let value = line[(colon + 1)...].drop { $0 == UInt8(ascii: " ") || $0 == UInt8(ascii: "\t") }
            var end = value.endIndex
            while end > value.startIndex, [UInt8(ascii: " "), UInt8(ascii: "\t"), UInt8(ascii: "\r")].contains(value[end - 1]) {
                end -= 1
            }
            return String(decoding: value[..<end], as: UTF8.self)
        }
        return nil
    }
}

/// Transport failure: no HTTP status was received. `requestSent` is false only when the request
/// certainly never reached the server (DNS, connect, TLS handshake, or curl reports that no byte of
/// it was written), which makes a retry safe.
public struct HTTPError: Error, CustomStringConvertible {
    public enum Code: Equatable, Sendable {
        case connect
        case timeout
        case tls
        case responseTooLarge
        case other
    }

    public var code: Code
    public var requestSent: Bool
    public var detail: String

    public var description: String { "HTTP \(code): \(detail)" }
}

/// Settings of an `HTTPClient`.
public struct HTTPClientConfiguration: Sendable {
    public var connectTimeoutMilliseconds: Int = 3100
    public var totalTimeoutMilliseconds: Int = 30_000
    /// PEM bundle trusted in addition to the system store (`AWS_CA_BUNDLE`, `VAULT_CACERT`).
    public var extraCABundle: String?
    /// Off only for `VAULT_SKIP_VERIFY`, which the Vault CLI honours too; the agent warns when it is set.
    public var verifyPeer = true
    public var maxResponseBytes: Int = 1 << 20
    /// Idle connections `execute` keeps for reuse. Left to curl, the pool is four per transfer in
    /// flight at the moment one ends, and a burst that ebbs closes connections the next burst opens
    /// again (a TLS handshake each); the worker sets it to its --max-connections.
    public var keptConnections = 64

    public init() {}
}

/// An HTTP client on libcurl, in two ways. `perform` blocks the calling thread (any number of
/// threads at once: each call borrows an easy handle, whose connections and TLS sessions later calls
/// reuse); call it from a thread pool, never from an event loop. `execute` returns at once and
/// answers from the client's transfer thread, where every transfer runs in one curl multi handle: the
/// requests in flight are bounded by nobody's thread count (SES answers in tens of milliseconds), the
/// connections are pooled across all of them, and answers that arrive together cost one wake-up.
public final class HTTPClient: Sendable {
    private let configuration: HTTPClientConfiguration
    private let idleHandles = Mutex<[CurlHandle]>([])
    /// Started by the first `execute`: the agent, which only blocks, never has the thread.
    private let transferLoop = Mutex<TransferLoop?>(nil)

    /// libcurl's global state must be set up once, before any thread uses it.
    private static let globalInit: Bool = shim_curl_global_init() == 0

    public init(configuration: HTTPClientConfiguration) {
        _ = Self.globalInit
        self.configuration = configuration
    }

    deinit {
        idleHandles.withLock { handles in
            for handle in handles { curl_easy_cleanup(handle.pointer) }
            handles.removeAll()
        }
    }

    public func perform(_ request: HTTPRequest) throws(HTTPError) -> HTTPResponse {
        let handle = idleHandles.withLock { $0.popLast() } ?? CurlHandle()
        defer { idleHandles.withLock { $0.append(handle) } }
        let transfer = try Transfer(request, on: handle, configuration: configuration)
        return try withExtendedLifetime(transfer) { () throws(HTTPError) in
            try transfer.result(curl_easy_perform(handle.pointer)).get()
        }
    }

    /// `completion` runs on the transfer thread, once: it must only hand the result on.
    public func execute(_ request: HTTPRequest, completion: @escaping @Sendable (Result<HTTPResponse, HTTPError>) -> Void) {
        let loop = transferLoop.withLock { loop in
            if let loop { return loop }
            let started = TransferLoop(configuration: configuration)
            loop = started
            return started
        }
        loop.submit(request, completion: completion)
    }
}

/// The transfer thread's state. The multi handle, its easy handles and `idle` belong to that thread
/// alone; other threads only queue work in `submitted` and call curl_multi_wakeup, which is safe
/// from any thread. The thread lives as long as the process.
private final class TransferLoop: @unchecked Sendable {
    private struct Submission {
        var request: HTTPRequest
        var completion: @Sendable (Result<HTTPResponse, HTTPError>) -> Void
    }

    private let configuration: HTTPClientConfiguration
    private let multi: UnsafeMutableRawPointer
    private let submitted = Mutex<[Submission]>([])
    private var idle: [CurlHandle] = []

    init(configuration: HTTPClientConfiguration) {
        self.configuration = configuration
        // curl_multi_init fails only when out of memory.
        guard let multi = curl_multi_init() else { preconditionFailure("curl_multi_init failed") }
        self.multi = multi
        _ = shim_curl_multi_setopt_long(multi, CURLMOPT_MAXCONNECTS, configuration.keptConnections)
        var thread = pthread_t()
        let context = Unmanaged.passRetained(self).toOpaque()
        let created = pthread_create(&thread, nil, { context in
            guard let context else { return nil }
            Unmanaged<TransferLoop>.fromOpaque(context).takeRetainedValue().run()
        }, context)
        precondition(created == 0, "cannot start the HTTP transfer thread: \(String(cString: strerror(created)))")
        pthread_detach(thread)
    }

    func submit(_ request: HTTPRequest, completion: @escaping @Sendable (Result<HTTPResponse, HTTPError>) -> Void) {
        submitted.withLock { $0.append(Submission(request: request, completion: completion)) }
        curl_multi_wakeup(multi)
    }

    private func run() -> Never {
        shim_name_this_thread("curl-transfers")
        var running: CInt = 0
        var queued: CInt = 0
        while true {
            for submission in submitted.withLock({ queue in defer { queue.removeAll(keepingCapacity: true) }; return queue }) {
                start(submission)
            }
            curl_multi_perform(multi, &running)
            while let message = curl_multi_info_read(multi, &queued) {
                guard message.pointee.msg == CURLMSG_DONE, let easy = message.pointee.easy_handle else { continue }
                finish(easy, code: message.pointee.data.result)
            }
            // Returns early for curl's own timers, for a socket that is ready, and for curl_multi_wakeup.
            curl_multi_poll(multi, nil, 0, 60_000, nil)
        }
    }

    private func start(_ submission: Submission) {
        let handle = idle.popLast() ?? CurlHandle()
        let transfer: Transfer
        do {
            transfer = try Transfer(submission.request, on: handle, configuration: configuration)
        } catch {
            idle.append(handle)
            submission.completion(.failure(error))
            return
        }
        transfer.completion = submission.completion
        _ = shim_curl_setopt_pointer(handle.pointer, CURLOPT_PRIVATE, Unmanaged.passRetained(transfer).toOpaque())
        let added = curl_multi_add_handle(multi, handle.pointer)
        guard added == CURLM_OK else {
            Unmanaged.passUnretained(transfer).release()
            idle.append(handle)
            submission.completion(
                .failure(HTTPError(code: .other, requestSent: false, detail: String(cString: curl_multi_strerror(added)))))
            return
        }
    }

    private func finish(_ easy: UnsafeMutableRawPointer, code: CURLcode) {
        var context: UnsafeMutableRawPointer?
        guard shim_curl_getinfo_pointer(easy, CURLINFO_PRIVATE, &context) == CURLE_OK, let context else {
            preconditionFailure("a finished transfer without its context")
        }
        let transfer = Unmanaged<Transfer>.fromOpaque(context).takeRetainedValue()
        let result = transfer.result(code)
        curl_multi_remove_handle(multi, easy)
        idle.append(transfer.handle)
        transfer.completion?(result)
    }
}

/// An easy handle. Not thread-safe by itself: one thread at a time has it (a `perform` call, or the
/// transfer thread), which is why it may be marked Sendable.
struct CurlHandle: @unchecked Sendable {
    let pointer: UnsafeMutableRawPointer

    init() {
        // curl_easy_init fails only when out of memory; nothing sensible is left to do then.
        guard let pointer = curl_easy_init() else { preconditionFailure("curl_easy_init failed") }
        self.pointer = pointer
    }
}

/// One request set up on an easy handle, and what curl's callbacks fill in while it runs: kept
/// alive until curl is done with the handle.
private final class Transfer {
    let handle: CurlHandle
    let sink: ResponseSink
    let source: BodySource?
    private let headerList: UnsafeMutablePointer<curl_slist>?
    var completion: (@Sendable (Result<HTTPResponse, HTTPError>) -> Void)?

    init(_ request: HTTPRequest, on handle: CurlHandle, configuration: HTTPClientConfiguration) throws(HTTPError) {
        // curl sends header lines as given: a CR or LF in a value (a token from a peer) would add
        // headers or a request of its own, and a NUL would cut the line short.
        for header in request.headers where !Self.isSafeHeader(header) {
            throw HTTPError(
                code: .other, requestSent: false, detail: "header \(header.name.debugDescription) would not be one header line; not sent")
        }
        self.handle = handle
        self.sink = ResponseSink(limit: configuration.maxResponseBytes)
        var headerList: UnsafeMutablePointer<curl_slist>? = nil
        // Expect: 100-continue would stall every large POST by a round trip (or a second).
        for line in request.headers.map({ "\($0.name): \($0.value)" }) + ["Expect:"] {
            headerList = curl_slist_append(headerList, line)
        }
        self.headerList = headerList
        if case .stream(let stream) = request.body {
            source = BodySource(stream)
        } else {
            source = nil
        }
        let pointer = handle.pointer
        curl_easy_reset(pointer)
        setOptions(request, configuration: configuration)
        guard request.method != "GET" else { return }
        switch request.body {
        case .bytes(let bytes):
            _ = shim_curl_setopt_long(pointer, CURLOPT_POSTFIELDSIZE_LARGE, bytes.count)
            // Copied by curl, so that the transfer does not depend on the array's lifetime; an empty
            // body still needs a pointer, or curl would read the body from stdin.
            (bytes.isEmpty ? [0] : bytes).withUnsafeBytes {
                _ = shim_curl_setopt_pointer(pointer, CURLOPT_COPYPOSTFIELDS, UnsafeMutableRawPointer(mutating: $0.baseAddress))
            }
        case .stream(let stream):
            let context = Unmanaged.passUnretained(source!).toOpaque()
            _ = shim_curl_setopt_long(pointer, CURLOPT_POSTFIELDSIZE_LARGE, stream.length)
            _ = shim_curl_setopt_read_function(pointer, curlReadCallback)
            _ = shim_curl_setopt_pointer(pointer, CURLOPT_READDATA, context)
            _ = shim_curl_setopt_seek_function(pointer, curlSeekCallback)
            _ = shim_curl_setopt_pointer(pointer, CURLOPT_SEEKDATA, context)
        }
    }

    deinit { curl_slist_free_all(headerList) }

    /// What curl's result code and the handle say about the finished transfer.
    func result(_ code: CURLcode) -> Result<HTTPResponse, HTTPError> {
        guard code == CURLE_OK else {
            if sink.overflowed {
                return .failure(HTTPError(code: .responseTooLarge, requestSent: true, detail: "response over \(sink.limit) bytes"))
            }
            var error = Self.error(for: code)
            // A connect that times out is CURLE_OPERATION_TIMEDOUT too; curl counts the header bytes
            // it wrote, and none written means the server cannot have the request.
            var sentHeaderBytes = 0
            if shim_curl_getinfo_long(handle.pointer, CURLINFO_REQUEST_SIZE, &sentHeaderBytes) == CURLE_OK, sentHeaderBytes == 0 {
                error.requestSent = false
            }
            return .failure(error)
        }
        var status = 0
        _ = shim_curl_getinfo_long(handle.pointer, CURLINFO_RESPONSE_CODE, &status)
        return .success(HTTPResponse(status: status, headerBytes: sink.headerBytes, body: sink.bytes))
    }

    static func isSafeHeader(_ header: (name: String, value: String)) -> Bool {
        !header.name.isEmpty && header.name.utf8.allSatisfy { $0 > 0x20 && $0 < 0x7F && $0 != UInt8(ascii: ":") }
            && header.value.utf8.allSatisfy { ($0 >= 0x20 && $0 != 0x7F) || $0 == UInt8(ascii: "\t") }
    }

    private func setOptions(_ request: HTTPRequest, configuration: HTTPClientConfiguration) {
        let pointer = handle.pointer
        _ = shim_curl_setopt_string(pointer, CURLOPT_URL, request.url)
        _ = shim_curl_setopt_string(pointer, CURLOPT_PROTOCOLS_STR, "http,https")
        _ = shim_curl_setopt_long(pointer, CURLOPT_NOSIGNAL, 1)
        _ = shim_curl_setopt_long(pointer, CURLOPT_CONNECTTIMEOUT_MS, configuration.connectTimeoutMilliseconds)
        _ = shim_curl_setopt_long(pointer, CURLOPT_TIMEOUT_MS, max(1, request.timeoutMilliseconds ?? configuration.totalTimeoutMilliseconds))
        _ = shim_curl_setopt_pointer(pointer, CURLOPT_HTTPHEADER, UnsafeMutableRawPointer(headerList))
        if let bundle = configuration.extraCABundle {
            // CAINFO alone would replace the system store; keeping CAPATH makes the bundle an addition.
            _ = shim_curl_setopt_string(pointer, CURLOPT_CAINFO, bundle)
            _ = shim_curl_setopt_string(pointer, CURLOPT_CAPATH, "/etc/ssl/certs")
        }
        if !configuration.verifyPeer {
            _ = shim_curl_setopt_long(pointer, CURLOPT_SSL_VERIFYPEER, 0)
            _ = shim_curl_setopt_long(pointer, CURLOPT_SSL_VERIFYHOST, 0)
        }
        switch request.method {
        case "GET":
            _ = shim_curl_setopt_long(pointer, CURLOPT_HTTPGET, 1)
        default:
            _ = shim_curl_setopt_long(pointer, CURLOPT_POST, 1)
            if request.method != "POST" {
                _ = shim_curl_setopt_string(pointer, CURLOPT_CUSTOMREQUEST, request.method)
            }
        }
        let sinkContext = Unmanaged.passUnretained(sink).toOpaque()
        _ = shim_curl_setopt_write_function(pointer, curlWriteCallback)
        _ = shim_curl_setopt_pointer(pointer, CURLOPT_WRITEDATA, sinkContext)
        _ = shim_curl_setopt_header_function(pointer, curlHeaderCallback)
        _ = shim_curl_setopt_pointer(pointer, CURLOPT_HEADERDATA, sinkContext)
    }

    private static func error(for code: CURLcode) -> HTTPError {
        let detail = String(cString: curl_easy_strerror(code))
        switch code {
        case CURLE_COULDNT_RESOLVE_HOST, CURLE_COULDNT_RESOLVE_PROXY, CURLE_COULDNT_CONNECT:
            return HTTPError(code: .connect, requestSent: false, detail: detail)
        case CURLE_SSL_CONNECT_ERROR, CURLE_PEER_FAILED_VERIFICATION, CURLE_SSL_CACERT_BADFILE,
            CURLE_SSL_CERTPROBLEM:
            return HTTPError(code: .tls, requestSent: false, detail: detail)
        case CURLE_OPERATION_TIMEDOUT:
            return HTTPError(code: .timeout, requestSent: true, detail: detail)
        default:
            return HTTPError(code: .other, requestSent: true, detail: detail)
        }
    }
}

/// Collects a response's headers and body up to a limit (both count against it); used only by the
/// thread running the transfer.
private final class ResponseSink {
    let limit: Int
    var bytes: [UInt8] = []
    var headerBytes: [UInt8] = []
    var overflowed = false

    init(limit: Int) { self.limit = limit }
}

/// The reader of a streamed body, replaced when curl rewinds; used only by the thread running the
/// transfer.
private final class BodySource {
    let stream: any HTTPBodyStream
    var reader: any HTTPBodyReader

    init(_ stream: any HTTPBodyStream) {
        self.stream = stream
        self.reader = stream.makeReader()
    }
}

private func curlReadCallback(buffer: UnsafeMutablePointer<CChar>?, size: Int, count: Int, context: UnsafeMutableRawPointer?) -> Int {
    guard let buffer, let context else { return Int(CURL_READFUNC_ABORT) }
    let source = Unmanaged<BodySource>.fromOpaque(context).takeUnretainedValue()
    return (try? source.reader.read(into: UnsafeMutableRawBufferPointer(start: buffer, count: size * count))) ?? Int(CURL_READFUNC_ABORT)
}

/// Only back to the start, which is all curl needs to send the body again.
private func curlSeekCallback(context: UnsafeMutableRawPointer?, offset: curl_off_t, origin: CInt) -> CInt {
    guard let context, offset == 0, origin == SEEK_SET else { return CInt(CURL_SEEKFUNC_CANTSEEK) }
    let source = Unmanaged<BodySource>.fromOpaque(context).takeUnretainedValue()
    source.reader = source.stream.makeReader()
    return CInt(CURL_SEEKFUNC_OK)
}

/// Body bytes, in as many calls as curl likes.
private func curlWriteCallback(
    data: UnsafeMutablePointer<CChar>?,
    size: Int,
    count: Int,
    context: UnsafeMutableRawPointer?
) -> Int {
    ResponseSink.append(data, size * count, context: context, to: \.bytes)
}

/// One header line per call, CRLF included; kept as bytes, read only if someone asks.
private func curlHeaderCallback(
    data: UnsafeMutablePointer<CChar>?,
    size: Int,
    count: Int,
    context: UnsafeMutableRawPointer?
) -> Int {
    ResponseSink.append(data, size * count, context: context, to: \.headerBytes)
}

extension ResponseSink {
    /// Both callbacks: headers and body count against one limit. Returning less than `length` makes
    /// curl abort the transfer (CURLE_WRITE_ERROR).
    fileprivate static func append(
        _ data: UnsafeMutablePointer<CChar>?,
        _ length: Int,
        context: UnsafeMutableRawPointer?,
        to field: ReferenceWritableKeyPath<ResponseSink, [UInt8]>
    ) -> Int {
        guard let data, let context else { return 0 }
        let sink = Unmanaged<ResponseSink>.fromOpaque(context).takeUnretainedValue()
        guard sink.headerBytes.count + sink.bytes.count + length <= sink.limit else {
            sink.overflowed = true
            return 0
        }
        data.withMemoryRebound(to: UInt8.self, capacity: length) {
            sink[keyPath: field].append(contentsOf: UnsafeBufferPointer(start: $0, count: length))
        }
        return length
    }
}
