import Foundation
import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import NIOWebSocket
import PluginAPI
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// WebSocket clients for plugins (SB_HOST_EXT_WEBSOCKET), e.g. the Sonos local API on
/// `wss://<ip>:1443/websocket/api`.
///
/// One per instance. Each socket is a SwiftNIO channel: TCP, TLS for wss:// (SNI for host names;
/// certificate checks unless SB_HTTP_TLS_NO_VERIFY), the HTTP/1.1 upgrade, then RFC 6455 frames.
/// Events go to the plugin's function on its serial executor, in order: SB_WS_OPEN, SB_WS_TEXT …,
/// and exactly one SB_WS_CLOSED — unless the plugin closed the socket first (or it was unloaded),
/// after which nothing is delivered for that socket any more, not even events already queued.
///
/// Bounds: at most `maxSockets` sockets per instance (a socket counts until its SB_WS_CLOSED was
/// delivered or the plugin closed it), incoming messages up to the request's size (default 1 MiB,
/// reassembled from at most `maxFragments` fragments; bigger closes the socket with 1009), at most
/// `maxOutstandingOut` bytes of outgoing messages not yet written (`send_text` answers SB_ERR_BUSY
/// beyond), and reading pauses while `pauseAt` messages wait for a busy plugin (TCP then pushes
/// back on the server) instead of buffering without limit.
final class PluginWebSocket: Sendable {
    /// The plugin's event function and its `user`, handed back to the plugin on its own executor only.
    struct Events: @unchecked Sendable {
        // @unchecked: plugin-owned pointers we never dereference; they are only passed back to
        // the plugin's function on the plugin's serial executor.
        let fn: sb_ws_event_fn
        let user: UnsafeMutableRawPointer?
    }

    struct Request: Sendable {
        var url: String
        var headers: [(String, String)]
        var subprotocol: String?
        var verifyCertificate: Bool
        /// Seconds, for TCP connect + TLS + upgrade together.
        var timeout: Double
        var maxMessageSize: Int
    }

    static let maxSockets = 16
    static let defaultTimeout = 10.0
    static let defaultMaxMessage = 1 << 20
    /// `max_message_size` above this is clamped to it.
    static let maxMessageLimit = 16 << 20
    static let maxOutgoingMessage = 16 << 20
    static let maxOutstandingOut = 16 << 20
    static let maxFragments = 4096
    /// Incoming messages waiting for the plugin's executor: reading pauses at `pauseAt` and resumes
    /// at `resumeAt`.
    static let pauseAt = 64
    static let resumeAt = 16

    /// Headers the host writes itself for the handshake; a plugin may not set them.
    static let reservedHeaders: Set<String> = [
        "connection", "upgrade", "sec-websocket-key", "sec-websocket-version", "sec-websocket-accept",
        "sec-websocket-extensions", "sec-websocket-protocol", "content-length", "transfer-encoding",
    ]

    /// A parsed ws:// or wss:// URL.
    struct Target: Sendable, CustomStringConvertible {
        let secure: Bool
        let host: String
        let port: Int
        /// Path and query, "/" at least.
        let uri: String

        var isIPLiteral: Bool {
            var v4 = in_addr(), v6 = in6_addr()
            return inet_pton(AF_INET, host, &v4) == 1 || inet_pton(AF_INET6, host, &v6) == 1
        }
        var hostHeader: String {
            let h = host.contains(":") ? "[\(host)]" : host
            return port == (secure ? 443 : 80) ? h : "\(h):\(port)"
        }
        var description: String { (secure ? "wss://" : "ws://") + hostHeader + uri }

        static func parse(_ text: String) -> Result<Target, HostServiceProblem> {
            func invalid(_ why: String) -> Result<Target, HostServiceProblem> {
                .failure(HostServiceProblem(status: SB_ERR_INVALID, description: "\(String(reflecting: text)): \(why)"))
            }
            guard let c = URLComponents(string: text), let scheme = c.scheme?.lowercased() else { return invalid("not a URL") }
            guard scheme == "ws" || scheme == "wss" else { return invalid("not a ws:// or wss:// URL") }
            guard var host = c.host, !host.isEmpty else { return invalid("no host") }
            if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
            guard c.user == nil, c.password == nil else { return invalid("user info is not supported (send a header)") }
            guard c.fragment == nil else { return invalid("a WebSocket URL has no fragment") }
            let secure = scheme == "wss"
            let port = c.port ?? (secure ? 443 : 80)
            guard (1...65535).contains(port) else { return invalid("bad port") }
            var uri = c.percentEncodedPath.isEmpty ? "/" : c.percentEncodedPath
            if let q = c.percentEncodedQuery { uri += "?" + q }
            return .success(Target(secure: secure, host: host, port: port, uri: uri))
        }
    }

    enum Phase { case connecting, open, ended }

    /// One socket; its state is shared by the plugin's threads, the event loop and the executor.
    final class Socket: Sendable {
        struct State {
            var phase: Phase = .connecting
            var channel: (any Channel)?
            /// Why it ended; the first reason found wins.
            var reason: String?
            /// The plugin closed it or the instance was unloaded: no events any more, and a
            /// connection that is still being made is closed as soon as it exists.
            var abandoned = false
            /// Messages queued for the executor, and whether reading is paused because of them.
            var waiting = 0
            var paused = false
        }

        let id: UInt64
        let target: Target
        let events: Events
        let maxMessageSize: Int
        let state = Mutex<State>(State())
        let outstandingOut = Atomic<Int>(0)

        init(id: UInt64, target: Target, events: Events, maxMessageSize: Int) {
            self.id = id
            self.target = target
            self.events = events
            self.maxMessageSize = maxMessageSize
        }

        /// Records why the socket is ending, unless a reason is known already.
        func fail(_ reason: String) {
            state.withLock { s in if s.reason == nil { s.reason = reason } }
        }

        var phase: Phase { state.withLock { $0.phase } }
    }

    private struct Table {
        var sockets: [UInt64: Socket] = [:]
        var closed = false
    }

    private let label: String
    private let logger: Logger
    private let executor: PluginExecutor
    private let offline: Bool
    private let table = Mutex<Table>(Table())
    private let nextID = Atomic<UInt64>(1)

    /// `offline` (for `plugin check`): `open` is refused, so an offline check connects nowhere.
    init(label: String, logger: Logger, executor: PluginExecutor, offline: Bool) {
        self.label = label
        self.logger = logger
        self.executor = executor
        self.offline = offline
    }

    // MARK: open

    /// Starts connecting. `assigned` receives the socket's id before anything can be delivered for
    /// it. Fails at once only for a bad request, too many sockets, an unloading instance or an
    /// offline check; everything that goes wrong later arrives as SB_WS_CLOSED.
    func open(_ request: Request, events: Events, assigned: (UInt64) -> Void) throws(HostServiceProblem) {
        if offline {
            throw HostServiceProblem(status: SB_ERR_UNSUPPORTED, description: "an offline check (plugin check) opens no WebSockets")
        }
        let target: Target
        switch Target.parse(request.url) {
        case .success(let t): target = t
        case .failure(let problem): throw problem
        }
        for (name, value) in request.headers {
            guard Self.isToken(name), !value.utf8.contains(where: { $0 == 0x0D || $0 == 0x0A || $0 == 0 }) else {
                throw HostServiceProblem(status: SB_ERR_INVALID, description: "handshake header \(String(reflecting: name)) is not a valid HTTP header")
            }
            guard !Self.reservedHeaders.contains(name.lowercased()) else {
                throw HostServiceProblem(status: SB_ERR_INVALID, description: "handshake header \(name) is set by the host"
                    + (name.lowercased() == "sec-websocket-protocol" ? " (use `subprotocol`)" : ""))
            }
        }
        if let sub = request.subprotocol {
            let asked = Self.subprotocols(sub)
            guard !asked.isEmpty, asked.allSatisfy(Self.isToken) else {
                throw HostServiceProblem(status: SB_ERR_INVALID, description: "subprotocol \(String(reflecting: sub)) is not a token (or a comma-separated list of tokens)")
            }
        }
        let id = nextID.wrappingAdd(1, ordering: .relaxed).oldValue
        let socket = Socket(id: id, target: target, events: events,
                            maxMessageSize: max(125, min(request.maxMessageSize, Self.maxMessageLimit)))
        let refusal: String? = table.withLock { t in
            if t.closed { return "the plugin is being unloaded" }
            if t.sockets.count >= Self.maxSockets { return "too many WebSockets (at most \(Self.maxSockets) per plugin)" }
            t.sockets[id] = socket
            return nil
        }
        if let refusal { throw HostServiceProblem(status: SB_ERR_BUSY, description: refusal) }
        assigned(id)
        logger.debug("plugin \(label): WebSocket \(id): connecting to \(target)")
        connect(socket, request)
    }

    private static func isToken(_ s: String) -> Bool {
        !s.isEmpty && s.utf8.allSatisfy { c in
            (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A) || Array("!#$%&'*+-.^_`|~".utf8).contains(c)
        }
    }

    static func subprotocols(_ list: String) -> [String] {
        list.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    }

    /// Client TLS contexts (loading the system's trust roots is costly): one that verifies the
    /// certificate (and the host name or IP against it), one for SB_HTTP_TLS_NO_VERIFY.
    private static let tlsContexts: Result<(verify: NIOSSLContext, noVerify: NIOSSLContext), any Error> = Result {
        var verify = TLSConfiguration.makeClientConfiguration()
        verify.applicationProtocols = ["http/1.1"]
        var noVerify = verify
        noVerify.certificateVerification = .none
        return (try NIOSSLContext(configuration: verify), try NIOSSLContext(configuration: noVerify))
    }

    private func connect(_ socket: Socket, _ request: Request) {
        let target = socket.target
        let sslContext: NIOSSLContext?
        switch (target.secure, Self.tlsContexts) {
        case (false, _):
            sslContext = nil
        case (true, .success(let contexts)):
            sslContext = request.verifyCertificate ? contexts.verify : contexts.noVerify
        case (true, .failure(let error)):
            socket.fail("TLS setup failed: \(error)")
            ended(socket)
            return
        }
        let timeout = request.timeout
        var head = HTTPRequestHead(version: .http1_1, method: .GET, uri: target.uri)
        head.headers.add(name: "Host", value: target.hostHeader)
        for (name, value) in request.headers {
            if name.lowercased() == "host" { head.headers.replaceOrAdd(name: "Host", value: value) } else { head.headers.add(name: name, value: value) }
        }
        let asked = request.subprotocol.map(Self.subprotocols) ?? []
        if !asked.isEmpty { head.headers.add(name: "Sec-WebSocket-Protocol", value: asked.joined(separator: ", ")) }
        let requestHead = head
        let sni = target.secure && !target.isIPLiteral ? target.host : nil

        let bootstrap = ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connectTimeout(.milliseconds(Int64(timeout * 1000)))
            .channelInitializer { [weak self] channel in
                channel.eventLoop.makeCompletedFuture {
                    guard let self else { throw ChannelError.ioOnClosedChannel }
                    let sync = channel.pipeline.syncOperations
                    if let sslContext {
                        try sync.addHandler(NIOSSLClientHandler(context: sslContext, serverHostname: sni))
                    }
                    let encoder = HTTPRequestEncoder()
                    let decoder = ByteToMessageHandler(HTTPResponseDecoder(leftOverBytesStrategy: .forwardBytes))
                    let refusal = UpgradeRefusal(socket: socket)
                    let upgrader = NIOTypedWebSocketClientUpgrader<Void>(
                        maxFrameSize: socket.maxMessageSize, enableAutomaticErrorHandling: false,
                        upgradePipelineHandler: { [weak self] channel, response in
                            channel.eventLoop.makeCompletedFuture {
                                guard let self else { throw ChannelError.ioOnClosedChannel }
                                try self.upgraded(socket, channel: channel, response: response, asked: asked)
                            }
                        })
                    let upgrade = NIOTypedHTTPClientUpgradeHandler<Void>(
                        // The refusal watcher goes first: it must leave before the decoder hands
                        // over the bytes that follow the 101 (WebSocket frames, not HTTP).
                        httpHandlers: [refusal, encoder, decoder],
                        upgradeConfiguration: NIOTypedHTTPClientUpgradeConfiguration(
                            upgradeRequestHead: requestHead, upgraders: [upgrader],
                            notUpgradingCompletionHandler: { channel in
                                channel.eventLoop.makeFailedFuture(Failure("the server did not upgrade the connection"))
                            }))
                    try sync.addHandler(encoder)
                    try sync.addHandler(decoder)
                    try sync.addHandler(refusal)
                    try sync.addHandler(upgrade)
                    upgrade.upgradeResultFuture.whenFailure { error in
                        // The upgrade handler also fails when it is merely removed from a channel
                        // that closed (connection refused …): the real reason comes from elsewhere.
                        if !Self.isIncidental(error) { socket.fail(Self.explain(error, timeout: timeout)) }
                        channel.close(promise: nil)
                    }
                }
            }
        let deadline = NIODeadline.now() + .milliseconds(Int64(timeout * 1000))
        bootstrap.connect(host: target.host, port: target.port).whenComplete { [weak self] result in
            switch result {
            case .failure(let error):
                socket.fail(Self.explain(error, timeout: timeout))
                self?.ended(socket)
            case .success(let channel):
                let abandoned = socket.state.withLock { s in
                    if !s.abandoned { s.channel = channel }
                    return s.abandoned
                }
                channel.closeFuture.whenComplete { [weak self] _ in
                    // A tick later, so that whatever error closed the channel has recorded its reason.
                    channel.eventLoop.execute { [weak self] in self?.ended(socket) }
                }
                if abandoned {
                    channel.close(promise: nil)
                    return
                }
                channel.eventLoop.scheduleTask(deadline: deadline) {
                    guard socket.phase == .connecting else { return }
                    socket.fail("timed out after \(Self.seconds(timeout))")
                    channel.close(promise: nil)
                }
            }
        }
    }

    /// The server agreed (101 with a valid accept key): check its subprotocol, put the frame
    /// handler in place, and tell the plugin.
    private func upgraded(_ socket: Socket, channel: any Channel, response: HTTPResponseHead, asked: [String]) throws {
        let chosen = response.headers["Sec-WebSocket-Protocol"].first?.trimmingCharacters(in: .whitespaces) ?? ""
        if !chosen.isEmpty, !asked.contains(chosen) {
            throw Failure(asked.isEmpty
                ? "the server chose subprotocol \(chosen) but none was asked for"
                : "the server chose subprotocol \(chosen), not one of \(asked.joined(separator: ", "))")
        }
        try channel.pipeline.syncOperations.addHandler(FrameHandler(owner: self, socket: socket))
        let abandoned = socket.state.withLock { s in
            if s.phase == .connecting { s.phase = .open }
            return s.abandoned
        }
        if abandoned { return }
        let protocolNote = chosen.isEmpty ? "" : ", subprotocol \(chosen)"
        logger.debug("plugin \(label): WebSocket \(socket.id) open: \(socket.target)\(protocolNote)")
        deliver(socket, SB_WS_OPEN, Array(chosen.utf8))
    }

    // MARK: send, close

    /// Queues one text message. SB_OK once it is queued (a write that then fails ends the socket
    /// with SB_WS_CLOSED); SB_ERR_NOT_FOUND unknown or closed id; SB_ERR_BUSY not open yet or too
    /// much not yet written; SB_ERR_FAILED the connection has ended (SB_WS_CLOSED is on its way);
    /// SB_ERR_INVALID not UTF-8 or too big.
    func sendText(_ id: UInt64, bytes: [UInt8]) -> Int32 {
        guard let socket = table.withLock({ $0.sockets[id] }) else { return SB_ERR_NOT_FOUND }
        guard bytes.count <= Self.maxOutgoingMessage, String(validating: bytes, as: UTF8.self) != nil else { return SB_ERR_INVALID }
        let (phase, channel) = socket.state.withLock { ($0.phase, $0.channel) }
        switch phase {
        case .connecting: return SB_ERR_BUSY
        case .ended: return SB_ERR_FAILED
        case .open: break
        }
        guard let channel else { return SB_ERR_FAILED }
        let size = bytes.count
        guard socket.outstandingOut.wrappingAdd(size, ordering: .relaxed).newValue <= Self.maxOutstandingOut else {
            socket.outstandingOut.wrappingSubtract(size, ordering: .relaxed)
            return SB_ERR_BUSY
        }
        let frame = WebSocketFrame(fin: true, opcode: .text, maskKey: .random(), data: ByteBuffer(bytes: bytes))
        channel.writeAndFlush(frame).whenComplete { result in
            socket.outstandingOut.wrappingSubtract(size, ordering: .relaxed)
            if case .failure(let error) = result, !Self.isIncidental(error), socket.phase == .open {
                socket.fail("sending failed: \(Self.explain(error, timeout: 0))")
                channel.close(promise: nil)
            }
        }
        return SB_OK
    }

    /// The plugin closes a socket: no event follows. An open connection gets a close frame (1000).
    func close(_ id: UInt64) {
        guard let socket = table.withLock({ $0.sockets.removeValue(forKey: id) }) else { return }
        logger.debug("plugin \(label): WebSocket \(id) closed by the plugin (\(socket.target))")
        shutDown(socket, code: .normalClosure, reason: "")
    }

    /// Closes every socket (1001 "going away"); later `open`s fail. Nothing is delivered any more.
    func closeAll() {
        let all = table.withLock { t in
            t.closed = true
            defer { t.sockets.removeAll() }
            return Array(t.sockets.values)
        }
        for socket in all { shutDown(socket, code: .goingAway, reason: "plugin unloaded") }
    }

    private func shutDown(_ socket: Socket, code: WebSocketErrorCode, reason: String) {
        let (phase, channel) = socket.state.withLock { s in
            s.abandoned = true
            return (s.phase, s.channel)
        }
        // Still connecting: the connection is closed as soon as it exists (it sees `abandoned`).
        guard let channel else { return }
        guard phase == .open else {
            channel.close(promise: nil)
            return
        }
        var data = ByteBuffer()
        data.write(webSocketErrorCode: code)
        data.writeString(reason)
        let frame = WebSocketFrame(fin: true, opcode: .connectionClose, maskKey: .random(), data: data)
        channel.writeAndFlush(frame).whenComplete { _ in channel.close(promise: nil) }
        // A peer that reads nothing must not keep the connection open for ever.
        channel.eventLoop.scheduleTask(in: .seconds(2)) { channel.close(promise: nil) }
    }

    // MARK: events

    /// The connection is gone (or never came): one SB_WS_CLOSED, unless the plugin closed it.
    fileprivate func ended(_ socket: Socket) {
        let (wasPhase, reason) = socket.state.withLock { s -> (Phase, String) in
            let was = s.phase
            s.phase = .ended
            s.channel = nil
            let fallback = was == .open ? "the server closed the connection without a close frame"
                                        : "the connection closed during the handshake"
            return (was, s.reason ?? fallback)
        }
        guard wasPhase != .ended else { return }
        logger.debug("plugin \(label): WebSocket \(socket.id) (\(socket.target)) ended: \(reason)")
        let events = socket.events
        executor.async { [weak self] in
            // Closed by the plugin (or unloaded) meanwhile: it must not hear from this socket again.
            guard let self, self.table.withLock({ t in
                guard t.sockets[socket.id] === socket else { return false }
                t.sockets.removeValue(forKey: socket.id)
                return true
            }) else { return }
            Self.call(events, socket.id, SB_WS_CLOSED, Array(reason.utf8))
        }
    }

    private func deliver(_ socket: Socket, _ event: Int32, _ bytes: [UInt8]) {
        let events = socket.events
        executor.async { [weak self] in
            guard let self, self.table.withLock({ $0.sockets[socket.id] === socket }) else { return }
            Self.call(events, socket.id, event, bytes)
        }
    }

    /// A text message for the plugin; pauses reading while too many wait for its executor.
    fileprivate func received(_ socket: Socket, text: [UInt8], channel: any Channel) {
        let pause = socket.state.withLock { s -> Bool in
            s.waiting += 1
            guard s.waiting >= Self.pauseAt, !s.paused else { return false }
            s.paused = true
            return true
        }
        if pause {
            logger.debug("plugin \(label): WebSocket \(socket.id): \(Self.pauseAt) messages wait for the plugin; reading paused")
            channel.setOption(ChannelOptions.autoRead, value: false).whenComplete { _ in }
        }
        let events = socket.events
        executor.async { [weak self] in
            let resume = socket.state.withLock { s -> (any Channel)? in
                s.waiting -= 1
                guard s.paused, s.waiting <= Self.resumeAt else { return nil }
                s.paused = false
                return s.channel
            }
            resume?.setOption(ChannelOptions.autoRead, value: true).whenComplete { _ in }
            guard let self, self.table.withLock({ $0.sockets[socket.id] === socket }) else { return }
            Self.call(events, socket.id, SB_WS_TEXT, text)
        }
    }

    fileprivate func note(_ socket: Socket, _ message: String) {
        logger.debug("plugin \(label): WebSocket \(socket.id): \(message)")
    }

    /// Calls the plugin with `bytes` plus a NUL after them (not counted in `size`).
    private static func call(_ events: Events, _ id: UInt64, _ event: Int32, _ bytes: [UInt8]) {
        var terminated = bytes
        terminated.append(0)
        terminated.withUnsafeBufferPointer { p in
            p.baseAddress!.withMemoryRebound(to: CChar.self, capacity: p.count) { events.fn(events.user, id, event, $0, bytes.count) }
        }
    }

    // MARK: reasons

    struct Failure: Error, CustomStringConvertible {
        let description: String
        init(_ description: String) { self.description = description }
    }

    static func seconds(_ t: Double) -> String {
        t == t.rounded() ? "\(Int(t)) s" : String(format: "%g s", t)
    }

    /// Errors that only say the channel went away, not why.
    static func isIncidental(_ error: any Error) -> Bool {
        guard let channelError = error as? ChannelError else { return false }
        switch channelError {
        case .inappropriateOperationForState, .ioOnClosedChannel, .alreadyClosed, .eof, .outputClosed: return true
        default: return false
        }
    }

    /// A short, plain reason for the plugin (and the log).
    static func explain(_ error: any Error, timeout: Double) -> String {
        switch error {
        case let failure as Failure:
            return failure.description
        case ChannelError.connectTimeout:
            return "timed out after \(seconds(timeout))"
        case let connection as NIOConnectionError:
            if let first = connection.connectionErrors.first { return explain(first.error, timeout: timeout) }
            if let dns = connection.dnsAError ?? connection.dnsAAAAError { return "cannot resolve \(connection.host): \(dns)" }
            return "cannot connect to \(connection.host):\(connection.port)"
        case let io as IOError:
            switch io.errnoCode {
            case ECONNREFUSED: return "connection refused"
            case ECONNRESET: return "connection reset by the server"
            case EHOSTUNREACH: return "host unreachable"
            case ENETUNREACH: return "network unreachable"
            case ETIMEDOUT: return "timed out after \(seconds(timeout))"
            default: return String(cString: strerror(io.errnoCode))
            }
        case let tls as NIOSSLError:
            return "TLS handshake failed: " + explainTLS(tls)
        case let tls as NIOSSLExtraError:
            return "TLS handshake failed: \(tls)"
        case let upgrade as NIOHTTPClientUpgradeError:
            switch upgrade {
            case .upgraderDeniedUpgrade: return "the server's upgrade answer is not valid (wrong Sec-WebSocket-Accept)"
            case .responseProtocolNotFound: return "the server answered 101 without upgrading to websocket"
            default: return "the upgrade failed: \(upgrade)"
            }
        case let parse as HTTPParserError:
            return "the server's answer is not HTTP (\(parse))"
        default:
            return "\(error)"
        }
    }

    private static func explainTLS(_ error: NIOSSLError) -> String {
        let text = "\(error)"
        if text.contains("CERTIFICATE_VERIFY_FAILED") {
            return "the server's certificate is not trusted (CERTIFICATE_VERIFY_FAILED; SB_HTTP_TLS_NO_VERIFY skips the check for a device with a self-signed one)"
        }
        if case .uncleanShutdown = error { return "the server closed the connection during the handshake" }
        if text.contains("WRONG_VERSION_NUMBER") { return "the server does not speak TLS there (WRONG_VERSION_NUMBER)" }
        return text
    }
}

/// Sits between the HTTP decoder and the upgrade handler until the server's answer: anything but
/// 101 ends the socket with "server refused the upgrade: HTTP <code>". Leaves with the HTTP handlers.
private final class UpgradeRefusal: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPClientResponsePart
    typealias InboundOut = HTTPClientResponsePart

    private let socket: PluginWebSocket.Socket
    private var refused = false

    init(socket: PluginWebSocket.Socket) { self.socket = socket }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if refused { return }
        if case .head(let head) = unwrapInboundIn(data), head.status != .switchingProtocols {
            refused = true
            socket.fail("server refused the upgrade: HTTP \(head.status.code)" + (head.status.reasonPhrase.isEmpty ? "" : " \(head.status.reasonPhrase)"))
            context.close(promise: nil)
            return
        }
        context.fireChannelRead(data)
    }
}

/// The WebSocket after the upgrade: text messages (reassembled) to the plugin, pings answered,
/// the server's close answered, limits enforced.
private final class FrameHandler: ChannelInboundHandler {
    typealias InboundIn = WebSocketFrame
    typealias OutboundOut = WebSocketFrame

    private weak let owner: PluginWebSocket?
    private let socket: PluginWebSocket.Socket
    private var message: (opcode: WebSocketOpcode, data: ByteBuffer, fragments: Int)?
    private var closing = false
    private var binaryIgnored = 0

    init(owner: PluginWebSocket, socket: PluginWebSocket.Socket) {
        self.owner = owner
        self.socket = socket
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !closing else { return }
        let frame = unwrapInboundIn(data)
        switch frame.opcode {
        case .ping:
            let pong = WebSocketFrame(fin: true, opcode: .pong, maskKey: .random(), data: frame.unmaskedData)
            context.writeAndFlush(wrapOutboundOut(pong), promise: nil)
        case .pong:
            break
        case .connectionClose:
            var body = frame.unmaskedData
            let code = body.readWebSocketErrorCode()
            let text = body.readString(length: body.readableBytes) ?? ""
            var reason = "closed by the server"
            if let code {
                reason += " (\(UInt16(webSocketErrorCode: code))" + (text.isEmpty ? ")" : ": \(text))")
            }
            socket.fail(reason)
            // Answer with the same code, then hang up (we are the client: the server would too).
            var answer = ByteBuffer()
            if let code { answer.write(webSocketErrorCode: code) }
            closeConnection(context: context, frame: WebSocketFrame(fin: true, opcode: .connectionClose, maskKey: .random(), data: answer))
        case .text, .binary:
            guard message == nil else {
                return fail(context, .protocolError, "protocol error: a new message began before the previous one ended")
            }
            message = (frame.opcode, frame.unmaskedData, 1)
            checkAndFinish(context: context, fin: frame.fin)
        case .continuation:
            guard var m = message else {
                return fail(context, .protocolError, "protocol error: a continuation frame without a message")
            }
            message = nil
            var part = frame.unmaskedData
            m.data.writeBuffer(&part)
            m.fragments += 1
            message = m
            checkAndFinish(context: context, fin: frame.fin)
        default:
            fail(context, .protocolError, "protocol error: unknown opcode \(frame.opcode)")
        }
    }

    private func checkAndFinish(context: ChannelHandlerContext, fin: Bool) {
        guard let m = message else { return }
        if m.data.readableBytes > socket.maxMessageSize {
            return fail(context, .messageTooLarge, "a message larger than \(socket.maxMessageSize) bytes arrived")
        }
        if m.fragments > PluginWebSocket.maxFragments {
            return fail(context, .messageTooLarge, "a message in more than \(PluginWebSocket.maxFragments) fragments arrived")
        }
        guard fin else { return }
        message = nil
        guard m.opcode == .text else {
            binaryIgnored += 1
            if binaryIgnored == 1 || binaryIgnored % 1000 == 0 {
                owner?.note(socket, "\(binaryIgnored) binary message(s) ignored (only text is handed to plugins)")
            }
            return
        }
        let bytes = Array(m.data.readableBytesView)
        guard String(validating: bytes, as: UTF8.self) != nil else {
            return fail(context, .dataInconsistentWithMessage, "the server sent a text message that is not UTF-8")
        }
        owner?.received(socket, text: bytes, channel: context.channel)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        switch error {
        case NIOWebSocketError.invalidFrameLength:
            fail(context, .messageTooLarge, "a message larger than \(socket.maxMessageSize) bytes arrived")
        case NIOWebSocketError.fragmentedControlFrame, NIOWebSocketError.multiByteControlFrameLength:
            fail(context, .protocolError, "protocol error: \(error)")
        default:
            if !PluginWebSocket.isIncidental(error) { socket.fail("connection lost: \(PluginWebSocket.explain(error, timeout: 0))") }
            closing = true
            context.close(promise: nil)
        }
    }

    /// Ends the connection because of the server: the reason for the plugin, a close frame for the server.
    private func fail(_ context: ChannelHandlerContext, _ code: WebSocketErrorCode, _ reason: String) {
        socket.fail(reason)
        var data = ByteBuffer()
        data.write(webSocketErrorCode: code)
        closeConnection(context: context, frame: WebSocketFrame(fin: true, opcode: .connectionClose, maskKey: .random(), data: data))
    }

    private func closeConnection(context: ChannelHandlerContext, frame: WebSocketFrame) {
        guard !closing else { return }
        closing = true
        message = nil
        let channel = context.channel
        context.writeAndFlush(wrapOutboundOut(frame)).whenComplete { _ in channel.close(promise: nil) }
        channel.eventLoop.scheduleTask(in: .seconds(2)) { channel.close(promise: nil) }
    }
}
