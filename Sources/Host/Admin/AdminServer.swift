import Hummingbird
import HummingbirdCore
import Logging
import ServiceLifecycle

public struct AdminServerError: Error, CustomStringConvertible {
    public let description: String
}

/// The admin HTTP listener (`admin.bind`, `admin.port`): the status page and its API, `/metrics`
/// and `/healthz` for Prometheus, container health checks and load balancers; apart from the media
/// server, which the LAN reaches. Who may use what is `AdminAccess`'s decision (the admin token,
/// required beyond loopback).
///
/// Loopback by default, but guarded all the same, with the media server's connection limits at
/// small fixed values: a few connections (a scraper and a health check need one each), a short
/// time to send the request head (slowloris), an idle timeout, and request heads of at most 8 KiB
/// (a larger one is a decoding error, and the connection is closed).
///
/// A port that is taken fails the start, naming `admin.port`: a daemon that runs without the
/// metrics its operator set up to watch would look healthy while being blind.
public final class AdminServer: Service, Sendable {
    public struct Settings: Sendable {
        public var bind: String
        public var port: Int
        public var limits: MediaConnectionLimits.Settings

        public init(bind: String, port: Int) {
            self.bind = bind
            self.port = port
            var limits = MediaConnectionLimits.Settings(maxConnections: 16, maxConnectionsPerHost: 8, headerTimeout: 5, idleTimeout: 15)
            limits.serverName = "admin listener"
            limits.maxConnectionsSource = "a fixed limit"
            limits.maxConnectionsPerHostSource = "a fixed limit"
            self.limits = limits
        }
    }

    /// Request heads larger than this are refused (a browser's, with its cookies, takes 1 to 2 KiB).
    static let maxHeadBytes = 8 << 10

    public let settings: Settings
    private let scrape: MetricsScrape
    private let healthProblems: @Sendable () -> (session: [String], plugins: [String])
    private let access: AdminAccess
    private let page: PageAPI?
    private let logger: Logger
    /// Opened with the port once the listener is up (the kernel's choice when `admin.port` is 0).
    public let running = Readiness<Int>()

    /// Holds a fixed `admin.port` from before the broker session starts until the listener is up.
    private let reservation: PortReservation?

    /// Takes a fixed port at once, so a taken one fails the start before the daemon connects and
    /// says `online` (under systemd's Restart= such a daemon would flap online and offline).
    public init(settings: Settings, export: PrometheusExport, status: SessionStatusBox, spool: Spool,
                speakers: SpeakerDirectory?, plugins: PluginRegistry? = nil,
                access: AdminAccess = AdminAccess(token: nil), page: PageAPI? = nil, logger: Logger) throws {
        self.settings = settings
        let numeric = settings.bind.allSatisfy { $0.isHexDigit || $0 == "." || $0 == ":" }
        do {
            reservation = settings.port != 0 && numeric ? try PortReservation(hosts: [settings.bind], fixed: settings.port) : nil
        } catch {
            throw Self.cannotListen(settings, error)
        }
        scrape = MetricsScrape(export: export, status: status, spool: spool, speakers: speakers, logger: logger)
        // The same verdict as the `health` request.
        healthProblems = { (status.current.healthProblems, plugins?.healthProblems ?? []) }
        self.access = access
        self.page = page
        self.logger = logger
    }

    public func run() async throws {
        var httpLogger = logger
        if httpLogger.logLevel < .notice { httpLogger.logLevel = .notice }
        let limits = MediaConnectionLimits(settings: settings.limits, logger: logger)
        let decoder = HTTP1Channel.Configuration.DecoderConfiguration(
            maxHeaderFieldSize: Self.maxHeadBytes, maxHeaderListSize: Self.maxHeadBytes, maxHeaderFieldCount: 64)
        let server = HTTPServerBuilder { responder in GuardedHTTP1Channel(responder: responder, limits: limits, decoder: decoder) }
        let host = MediaServer.urlHost(settings.bind)
        let application = Application(
            responder: AdminResponder(scrape: scrape, healthProblems: healthProblems, access: access, page: page,
                                      throttle: SignInThrottle(), logger: logger),
            server: server,
            configuration: ApplicationConfiguration(address: .hostname(settings.bind, port: settings.port)),
            onServerRunning: { [logger, running, reservation] channel in
                reservation?.release()
                let port = channel.localAddress?.port ?? 0
                logger.info("admin: listening on http://\(host):\(port) (status page /, /metrics, /healthz)")
                running.open(port)
            },
            logger: httpLogger)
        do {
            try await application.run()
        } catch {
            reservation?.release()
            running.fail("\(error)")
            throw Self.cannotListen(settings, error)
        }
        reservation?.release()
        running.fail("the admin listener has stopped")
        logger.info("admin: stopped")
    }

    private static func cannotListen(_ settings: Settings, _ error: any Error) -> AdminServerError {
        AdminServerError(description: "admin listener: cannot listen on \(MediaServer.urlHost(settings.bind)):\(settings.port) (admin.bind, admin.port): \(error); set admin.port to a free port (0: any free one) or admin.bind to \"off\" to turn the listener off")
    }
}
