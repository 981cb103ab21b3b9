import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import NIOHTTP1
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// The media server's limits on connections, shared by all its listeners: how many may be open
/// (in all and from one remote address), how long a client may take to send a request head, how long a connection may make no progress.
///
/// Speakers are the only honest clients, and they fetch a clip at a time. Without these limits one
/// host on the LAN could hold every file descriptor (open and say nothing), a slowloris (a header
/// byte a second) could keep connections forever, and a client that never reads could park clip
/// data in the daemon's send buffers.
public final class MediaConnectionLimits: Sendable {
    public struct Settings: Sendable, Equatable {
        /// Open connections at most (all listeners together); more are closed at once.
        public var maxConnections: Int = 256
        /// Open connections from one remote address at most; more from it are closed at once. Without
        /// it one LAN host could hold every slot (until the header timeout) and lock the speakers out.
        public var maxConnectionsPerHost: Int = 32
        /// Seconds a client has to send a complete request head, from the moment it connects (first
        /// request) or sends the first byte of the next one.
        public var headerTimeout: Double = 10
        /// Seconds without a byte read or written (a write counts when the socket took it).
        public var idleTimeout: Double = 30
        /// How often a refusal is logged at most, in seconds (they are all counted).
        public var refusalLogInterval: Double = 10
        /// Who the limits guard and the settings behind them, for the refusal log lines (the admin
        /// listener uses these limits too, with fixed values).
        public var serverName = "media server"
        public var maxConnectionsSource = "media.max_connections"
        public var maxConnectionsPerHostSource = "media.max_connections_per_host"

        public init(maxConnections: Int = 256, maxConnectionsPerHost: Int = 32, headerTimeout: Double = 10,
                    idleTimeout: Double = 30) {
            self.maxConnections = maxConnections
            self.maxConnectionsPerHost = maxConnectionsPerHost
            self.headerTimeout = headerTimeout
            self.idleTimeout = idleTimeout
        }
    }

    /// What the limits have done since the server started.
    public struct Counts: Sendable, Equatable {
        public var open = 0
        public var accepted = 0
        /// Closed at once because `maxConnections` were open.
        public var refused = 0
        /// Closed at once because their address already held `maxConnectionsPerHost`.
        public var refusedPerHost = 0
        /// Closed because the request head did not arrive in time.
        public var headerTimeouts = 0
        /// Closed because nothing moved for `idleTimeout`.
        public var idleTimeouts = 0
    }

    private struct State {
        var counts = Counts()
        /// Open connections by remote address; an address leaves when its last one closes.
        var openByHost: [String: Int] = [:]
        var refusedSinceLog = 0
        var lastRefusalLog: ContinuousClock.Instant?
        var refusedPerHostSinceLog = 0
        var lastPerHostRefusalLog: ContinuousClock.Instant?
    }

    private enum Refusal {
        /// All `maxConnections` are open: how many were refused since the last report.
        case full(report: Int?)
        /// `host` holds its `maxConnectionsPerHost`.
        case hostFull(host: String, report: Int?)
    }

    public let settings: Settings
    private let logger: Logger
    private let state = Mutex(State())

    public init(settings: Settings, logger: Logger) {
        self.settings = settings
        self.logger = logger
    }

    public var counts: Counts { state.withLock { $0.counts } }

    /// Admits a new connection from `host` (its remote address; nil: not an IP connection, only the
    /// overall cap applies), or counts it refused (and says so at most every 10 s per kind).
    func admit(host: String?) -> Bool {
        let now = ContinuousClock.now
        let interval = Duration.milliseconds(Int64(settings.refusalLogInterval * 1000))
        let refusal: Refusal? = state.withLock { s in
            if s.counts.open >= settings.maxConnections {
                s.counts.refused += 1
                s.refusedSinceLog += 1
                guard s.lastRefusalLog.map({ now - $0 >= interval }) ?? true else { return .full(report: nil) }
                defer { s.refusedSinceLog = 0; s.lastRefusalLog = now }
                return .full(report: s.refusedSinceLog)
            }
            if let host, s.openByHost[host, default: 0] >= settings.maxConnectionsPerHost {
                s.counts.refusedPerHost += 1
                s.refusedPerHostSinceLog += 1
                guard s.lastPerHostRefusalLog.map({ now - $0 >= interval }) ?? true else { return .hostFull(host: host, report: nil) }
                defer { s.refusedPerHostSinceLog = 0; s.lastPerHostRefusalLog = now }
                return .hostFull(host: host, report: s.refusedPerHostSinceLog)
            }
            s.counts.open += 1
            s.counts.accepted += 1
            if let host { s.openByHost[host, default: 0] += 1 }
            return nil
        }
        switch refusal {
        case nil:
            return true
        case .full(let report?):
            logger.warning("\(settings.serverName): \(settings.maxConnections) connections are open (\(settings.maxConnectionsSource)); closed \(report) more at once since the last report, \(counts.refused) in all")
        case .hostFull(let host, let report?):
            logger.warning("\(settings.serverName): \(host) holds \(settings.maxConnectionsPerHost) connections (\(settings.maxConnectionsPerHostSource)); closed \(report) more from hosts at their share at once since the last report, \(counts.refusedPerHost) in all")
        case .full(nil), .hostFull(_, nil):
            break
        }
        return false
    }

    func closed(host: String?) {
        state.withLock { s in
            s.counts.open -= 1
            guard let host, let held = s.openByHost[host] else { return }
            s.openByHost[host] = held > 1 ? held - 1 : nil
        }
    }

    /// The key a connection is counted under: its remote IP address, with an IPv4-mapped IPv6
    /// address ("::ffff:192.168.1.9", how a dual-stack "::" listener sees IPv4 clients) as the
    /// IPv4 address, so one host is one key whichever listener it reached.
    static func hostKey(_ address: SocketAddress?) -> String? {
        guard let ip = address?.ipAddress else { return nil }
        let mapped = "::ffff:"
        if ip.lowercased().hasPrefix(mapped), ip.dropFirst(mapped.count).contains(".") {
            return String(ip.dropFirst(mapped.count))
        }
        return ip
    }

    func timedOut(header: Bool) {
        state.withLock { s in
            if header { s.counts.headerTimeouts += 1 } else { s.counts.idleTimeouts += 1 }
        }
    }
}

/// One accepted connection: HTTP/1 with the limits' handlers, or one refused over the cap.
struct GuardedConnection: ServerChildChannelValue {
    let channel: any Channel
    let http: HTTP1Channel.Value?
}

/// Hummingbird's HTTP/1 child channel with the connection limits in front of it.
struct GuardedHTTP1Channel: ServerChildChannel {
    typealias Value = GuardedConnection
    let http1: HTTP1Channel
    let limits: MediaConnectionLimits

    /// `decoder`: the request head's limits (the admin listener, which expects only short GETs,
    /// keeps them smaller than HTTP's usual 80 KiB).
    init(responder: @escaping HTTPChannelHandler.Responder, limits: MediaConnectionLimits,
         decoder: HTTP1Channel.Configuration.DecoderConfiguration = .init()) {
        // No idle timeout of Hummingbird's: ours also counts bytes moving inside a long response.
        http1 = HTTP1Channel(responder: responder, configuration: .init(idleTimeout: nil, httpDecoderConfiguration: decoder))
        self.limits = limits
    }

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<GuardedConnection> {
        // Never fail this future: a failed child setup ends the server's accept loop.
        let host = MediaConnectionLimits.hostKey(channel.remoteAddress)
        guard limits.admit(host: host) else {
            return channel.eventLoop.makeSucceededFuture(GuardedConnection(channel: channel, http: nil))
        }
        let limits = self.limits
        channel.closeFuture.whenComplete { _ in limits.closed(host: host) }
        let watch = ConnectionWatch(limits: limits)
        do {
            try channel.pipeline.syncOperations.addHandler(RawTrafficHandler(watch: watch), position: .first)
        } catch {
            channel.close(promise: nil)
            return channel.eventLoop.makeSucceededFuture(GuardedConnection(channel: channel, http: nil))
        }
        return http1.setup(channel: channel, logger: logger).assumeIsolated().map { http in
            // Between NIOHTTP1's decoder and Hummingbird's codec: sees request heads and response ends.
            do {
                let decoder = try channel.pipeline.syncOperations.handler(type: ByteToMessageHandler<HTTPRequestDecoder>.self)
                try channel.pipeline.syncOperations.addHandler(RequestBoundaryHandler(watch: watch), position: .after(decoder))
            } catch {
                channel.close(promise: nil)
            }
            return GuardedConnection(channel: channel, http: http)
        }.nonisolated()
    }

    func handle(value: GuardedConnection, logger: Logger) async {
        guard let http = value.http else {
            try? await value.channel.close()
            return
        }
        await http1.handle(value: http, logger: logger)
    }
}

/// Per connection, on its event loop only: when a request head is due and when the connection
/// last made progress; one timer at the nearer of the two deadlines.
final class ConnectionWatch {
    private let limits: MediaConnectionLimits
    private let headerTimeout: TimeAmount
    private let idleTimeout: TimeAmount
    private var lastProgress = NIODeadline.now()
    /// Set while a request head is expected and has started (or the connection is new).
    private var headDue: NIODeadline?
    /// Request heads read minus responses ended: > 0 while a request is being served.
    private var inFlight = 0
    private var timer: Scheduled<Void>?
    private var timerDeadline: NIODeadline?
    private weak var context: ChannelHandlerContext?

    init(limits: MediaConnectionLimits) {
        self.limits = limits
        headerTimeout = .milliseconds(Int64(limits.settings.headerTimeout * 1000))
        idleTimeout = .milliseconds(Int64(limits.settings.idleTimeout * 1000))
    }

    func start(_ context: ChannelHandlerContext) {
        self.context = context
        lastProgress = .now()
        headDue = lastProgress + headerTimeout
        arm()
    }

    func stop() {
        timer?.cancel()
        timer = nil
        context = nil
    }

    func bytesRead() {
        lastProgress = .now()
        // The first byte of the next request starts its head's clock.
        if inFlight == 0, headDue == nil {
            headDue = lastProgress + headerTimeout
            arm()
        }
    }

    func bytesWritten() { lastProgress = .now() }

    func headReceived() {
        inFlight += 1
        headDue = nil
    }

    func responseEnded() {
        inFlight = max(0, inFlight - 1)
    }

    /// (Re)schedules the timer when the nearest deadline moved earlier than the one scheduled.
    private func arm() {
        guard let context else { return }
        let next = nextDeadline()
        if let timerDeadline, timerDeadline <= next { return }
        timer?.cancel()
        timerDeadline = next
        timer = context.eventLoop.assumeIsolatedUnsafeUnchecked().scheduleTask(deadline: next) { [weak self] in
            self?.fire()
        }
    }

    private func nextDeadline() -> NIODeadline {
        let idle = lastProgress + idleTimeout
        return headDue.map { min($0, idle) } ?? idle
    }

    private func fire() {
        timer = nil
        timerDeadline = nil
        guard let context else { return }
        let now = NIODeadline.now()
        if let headDue, headDue <= now {
            limits.timedOut(header: true)
            close(context)
        } else if lastProgress + idleTimeout <= now {
            limits.timedOut(header: false)
            close(context)
        } else {
            arm()
        }
    }

    /// With a reset (SO_LINGER 0), not a FIN: a client that stopped reading would never take the
    /// FIN queued behind the unsent data, and the kernel would keep that data for minutes.
    /// Counted, not logged one by one: a flood would flood the log.
    private func close(_ context: ChannelHandlerContext) {
        stop()
        guard let provider = context.channel as? SocketOptionProvider else { return context.close(promise: nil) }
        provider.setSoLinger(linger(l_onoff: 1, l_linger: 0)).assumeIsolated().whenComplete { _ in
            context.close(promise: nil)
        }
    }
}

/// First in the pipeline: every byte read, and every write the socket took, is progress.
final class RawTrafficHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    typealias OutboundIn = IOData
    typealias OutboundOut = IOData

    let watch: ConnectionWatch

    init(watch: ConnectionWatch) { self.watch = watch }

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { watch.start(context) }
    }

    func channelActive(context: ChannelHandlerContext) {
        watch.start(context)
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        watch.stop()
        context.fireChannelInactive()
    }

    func handlerRemoved(context: ChannelHandlerContext) { watch.stop() }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        watch.bytesRead()
        context.fireChannelRead(data)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        // A response body goes out in slices; each one the kernel accepts is progress, so a speaker
        // reading a long clip at playback speed is never "idle", and one that stops reading is.
        let written = context.eventLoop.makePromise(of: Void.self)
        let watch = self.watch
        written.futureResult.assumeIsolated().whenSuccess { watch.bytesWritten() }
        if let promise { written.futureResult.cascade(to: promise) }
        context.write(data, promise: written)
    }
}

/// Between the HTTP/1 decoder and Hummingbird: where one request's head ends and its response ends.
final class RequestBoundaryHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias InboundOut = HTTPServerRequestPart
    typealias OutboundIn = HTTPServerResponsePart
    typealias OutboundOut = HTTPServerResponsePart

    let watch: ConnectionWatch

    init(watch: ConnectionWatch) { self.watch = watch }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if case .head = unwrapInboundIn(data) { watch.headReceived() }
        context.fireChannelRead(data)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        if case .end = unwrapOutboundIn(data) { watch.responseEnded() }
        context.write(data, promise: promise)
    }
}
