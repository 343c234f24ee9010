import CShim
import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import Shared

#if canImport(Glibc)
import Glibc
#endif

/// The sockets the supervisor opens before any child runs: the SMTP listener (bound here, so that a
/// port below 1024 needs no privilege in the worker, or taken from systemd socket activation) and the
/// HTTP listeners for /health and /metrics.
enum Listeners {
    /// sd_listen_fds(3): the first passed descriptor.
    static let systemdFirstDescriptor: Int32 = 3

    static func smtp(options: SupervisorOptions, environment: [String: String], logger: Logger) throws -> Int32 {
        if let fd = try activated(environment: environment) {
            logger.notice(
                "accepting SMTP on the socket systemd passed",
                metadata: ["port": "\(shim_local_port(fd))", "ignored_address": "\(options.listenAddress)"])
            return fd
        }
        return try bind(options.listenAddress, what: "SMTP", options: options, logger: logger)
    }

    /// The implicit-TLS listener (`--tls-listen`), or /dev/null for the worker's descriptor slot.
    static func implicitTLS(options: SupervisorOptions, logger: Logger) throws -> Int32 {
        guard let address = options.tlsListen else {
            return try SharedFiles.openOrEmpty(nil, required: false, variable: "--tls-listen")
        }
        return try bind(address, what: "SMTP over TLS", options: options, logger: logger)
    }

    private static func bind(_ text: String, what: String, options: SupervisorOptions, logger: Logger) throws -> Int32 {
        let address = try ListenAddress(parsing: text)
        let fd = shim_listen_tcp(address.host, String(address.port), 511)
        guard fd >= 0 else {
            throw Supervisor.StartupError(description: "cannot listen on \(text): \(String(cString: strerror(-fd)))")
        }
        logger.notice("accepting \(what)", metadata: ["address": "\(ListenAddress(host: address.host, port: Int(shim_local_port(fd))))"])
        if !address.isLoopback, options.allowFrom == nil, !options.requireAuth {
            logger.warning(
                "OPEN RELAY: \(what) is accepted from any client that can reach \(text) and is sent as this account's SES identity; restrict it with --allow-from CIDR, --require-auth or a firewall",
                metadata: ["address": "\(text)"])
        }
        return fd
    }

    /// The socket from `LISTEN_FDS`/`LISTEN_PID` when systemd started us for it, else nil.
    private static func activated(environment: [String: String]) throws -> Int32? {
        guard let pid = environment["LISTEN_PID"], pid == String(getpid()), let count = environment["LISTEN_FDS"] else {
            return nil
        }
        guard count == "1" else {
            throw Supervisor.StartupError(description: "LISTEN_FDS=\(count): expected exactly one socket (the SMTP listener)")
        }
        switch shim_adopt_listening_tcp(systemdFirstDescriptor) {
        case 1: return systemdFirstDescriptor
        case 0: throw Supervisor.StartupError(description: "LISTEN_FDS: descriptor 3 is not a listening TCP socket")
        case let error: throw Supervisor.StartupError(description: "LISTEN_FDS: descriptor 3: \(String(cString: strerror(-error)))")
        }
    }

    static func http(options: SupervisorOptions, health: HealthState, metrics: MetricsRegistry, group: EventLoopGroup, logger: Logger) async throws {
        var listeners: [(flag: String, address: String, routes: HTTPEndpointHandler.Routes)] = []
        if options.enableHealthCheck {
            listeners.append(("--health-check-bind", options.healthCheckBind, .init(health: health)))
        }
        if options.enablePrometheus {
            if let index = listeners.firstIndex(where: { $0.address == options.prometheusBind }) {
                listeners[index].routes.metrics = metrics
            } else {
                listeners.append(("--prometheus-bind", options.prometheusBind, .init(metrics: metrics)))
            }
        }
        for listener in listeners {
            let address = try ListenAddress(parsing: listener.address)
            let routes = listener.routes
            let bootstrap = ServerBootstrap(group: group)
                .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
                .childChannelInitializer { channel in
                    channel.pipeline.configureHTTPServerPipeline().flatMapThrowing {
                        try channel.pipeline.syncOperations.addHandler(HTTPEndpointHandler(routes: routes))
                    }
                }
            do {
                if address.host.isEmpty {
                    _ = try await bootstrap.bind(host: "::", port: address.port).flatMapError { _ in
                        bootstrap.bind(host: "0.0.0.0", port: address.port)
                    }.get()
                } else {
                    _ = try await bootstrap.bind(host: address.host, port: address.port).get()
                }
            } catch {
                throw Supervisor.StartupError(description: "\(listener.flag) \(listener.address): cannot listen: \(error)")
            }
            logger.notice("serving HTTP", metadata: ["address": "\(listener.address)"])
        }
    }
}

/// sd_notify(3) without libsystemd: READY=1, STOPPING=1 and, when systemd asks for it with
/// WATCHDOG_USEC, WATCHDOG=1 at half the interval.
struct SystemdNotifier {
    let socket: String?
    let watchdogInterval: TimeAmount?

    init(environment: [String: String]) {
        socket = environment["NOTIFY_SOCKET"].flatMap { $0.isEmpty ? nil : $0 }
        let forUs = environment["WATCHDOG_PID"].map { $0 == String(getpid()) } ?? true
        if forUs, let text = environment["WATCHDOG_USEC"], let usec = Int64(text, radix: 10), usec > 0 {
            watchdogInterval = .microseconds(usec / 2)
        } else {
            watchdogInterval = nil
        }
    }

    func notify(_ message: String) {
        guard let socket else { return }
        _ = shim_sd_notify(socket, message)
    }

    /// Pings from the supervisor's event loop: if the loop stalls, systemd notices.
    func startWatchdog(on eventLoop: EventLoop) {
        guard socket != nil, let interval = watchdogInterval else { return }
        let notifier = self
        eventLoop.scheduleRepeatedTask(initialDelay: .zero, delay: interval) { _ in notifier.notify("WATCHDOG=1") }
    }
}
