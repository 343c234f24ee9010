import NIOCore
import NIOHTTP1

#if canImport(Glibc)
import Glibc
#endif

/// GET /health and GET /metrics on the supervisor's HTTP listeners; everything else is 404 or 405.
/// Reads no request body and holds no state of its own.
final class HTTPEndpointHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    struct Routes: Sendable {
        var health: HealthState?
        var metrics: MetricsRegistry?
    }

    private let routes: Routes
    private var request: HTTPRequestHead?

    init(routes: Routes) {
        self.routes = routes
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            request = head
        case .body:
            break
        case .end:
            guard let head = request else { return }
            request = nil
            respond(to: head, context: context)
        }
    }

    private func respond(to head: HTTPRequestHead, context: ChannelHandlerContext) {
        let path = head.uri.split(separator: "?", maxSplits: 1).first.map(String.init) ?? head.uri
        let (status, contentType, body): (HTTPResponseStatus, String, [UInt8])
        switch (path, routes.health, routes.metrics) {
        case ("/health", .some(let health), _):
            let report = health.report(now: Int64(time(nil)))
            (status, contentType, body) = (.init(statusCode: report.status), "application/json", Array((report.json + "\n").utf8))
        case ("/metrics", _, .some(let metrics)):
            (status, contentType, body) = (.ok, "text/plain; version=0.0.4; charset=utf-8", metrics.exposition())
        default:
            (status, contentType, body) = (.notFound, "text/plain", Array("not found\n".utf8))
        }
        let allowed = head.method == .GET || head.method == .HEAD
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: allowed ? contentType : "text/plain")
        headers.add(name: "Content-Length", value: allowed ? "\(body.count)" : "0")
        headers.add(name: "Connection", value: head.isKeepAlive ? "keep-alive" : "close")
        let responseHead = HTTPResponseHead(version: head.version, status: allowed ? status : .methodNotAllowed, headers: headers)
        context.write(wrapOutboundOut(.head(responseHead)), promise: nil)
        if allowed && head.method == .GET {
            context.write(wrapOutboundOut(.body(.byteBuffer(ByteBuffer(bytes: body)))), promise: nil)
        }
        let keepAlive = head.isKeepAlive
        context.writeAndFlush(wrapOutboundOut(.end(nil))).assumeIsolated().whenComplete { _ in
            if !keepAlive { context.close(promise: nil) }
        }
    }
}
