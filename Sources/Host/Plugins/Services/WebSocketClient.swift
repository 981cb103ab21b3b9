import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import NIOWebSocket
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// What a WebSocket connection tells whoever opened it (the plugins' socket table, `PluginWebSocket`).
protocol WebSocketConnectionOwner: AnyObject, Sendable {
    /// The server upgraded the connection; `subprotocol` is its choice ("" for none).
    func opened(_ socket: WebSocketConnection, subprotocol: String)
    /// One whole text message, valid UTF-8. `channel` is the connection's, to pause reading.
    func received(_ socket: WebSocketConnection, text: [UInt8], channel: any Channel)
    /// Worth a debug line (binary messages ignored).
    func note(_ socket: WebSocketConnection, _ message: String)
    /// The connection is gone or never came (the first `fail` reason says why); may come more than once.
    func ended(_ socket: WebSocketConnection)
}

/// One client connection; its state is shared by its owner's threads, the event loop and the
/// owner's executor.
final class WebSocketConnection: Sendable {
    enum Phase { case connecting, open, ended }

    struct State {
        var phase: Phase = .connecting
        var channel: (any Channel)?
        /// Why it ended; the first reason found wins.
        var reason: String?
        /// Closed by its owner: no events any more, and a connection that is still being made is
        /// closed as soon as it exists.
        var abandoned = false
        /// Messages the owner has not taken yet, and whether reading is paused because of them.
        var waiting = 0
        var paused = false
    }

    let id: UInt64
    let target: WebSocketTarget
    let maxMessageSize: Int
    let state = Mutex<State>(State())
    let outstandingOut = Atomic<Int>(0)

    init(id: UInt64, target: WebSocketTarget, maxMessageSize: Int) {
        self.id = id
        self.target = target
        self.maxMessageSize = maxMessageSize
    }

    /// Records why the connection is ending, unless a reason is known already.
    func fail(_ reason: String) {
        state.withLock { s in if s.reason == nil { s.reason = reason } }
    }

    var phase: Phase { state.withLock { $0.phase } }
}

/// A parsed ws:// or wss:// URL.
struct WebSocketTarget: Sendable, CustomStringConvertible {
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

    static func parse(_ text: String) -> Result<WebSocketTarget, WebSocketClient.Failure> {
        func invalid(_ why: String) -> Result<WebSocketTarget, WebSocketClient.Failure> {
            .failure(WebSocketClient.Failure("\(String(reflecting: text)): \(why)"))
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
        return .success(WebSocketTarget(secure: secure, host: host, port: port, uri: uri))
    }
}

/// An RFC 6455 client on SwiftNIO: TCP, TLS for wss:// (SNI for host names; certificate checks
/// unless asked not to), the HTTP/1.1 upgrade, then frames: text messages reassembled (up to the
/// connection's `maxMessageSize`, at most `maxFragments` fragments; bigger closes with 1009), pings
/// answered, the server's close answered. It knows nothing of plugins: its owner gets the events.
enum WebSocketClient {
    /// What the handshake sends besides the URL.
    struct Handshake: Sendable {
        var headers: [(String, String)]
        var subprotocols: [String]
        var verifyCertificate: Bool
        /// Seconds, for TCP connect + TLS + upgrade together.
        var timeout: Double
    }

    static let maxFragments = 4096

    /// Headers the client writes itself for the handshake; a caller may not set them.
    static let reservedHeaders: Set<String> = [
        "connection", "upgrade", "sec-websocket-key", "sec-websocket-version", "sec-websocket-accept",
        "sec-websocket-extensions", "sec-websocket-protocol", "content-length", "transfer-encoding",
    ]

    static func isToken(_ s: String) -> Bool {
        !s.isEmpty && s.utf8.allSatisfy { c in
            (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A) || Array("!#$%&'*+-.^_`|~".utf8).contains(c)
        }
    }

    static func subprotocols(_ list: String) -> [String] {
        list.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    }

    /// Client TLS contexts (loading the system's trust roots is costly): one that verifies the
    /// certificate (and the host name or IP against it), one that does not (for a device with a
    /// self-signed certificate).
    private static let tlsContexts: Result<(verify: NIOSSLContext, noVerify: NIOSSLContext), any Error> = Result {
        var verify = TLSConfiguration.makeClientConfiguration()
        verify.applicationProtocols = ["http/1.1"]
        var noVerify = verify
        noVerify.certificateVerification = .none
        return (try NIOSSLContext(configuration: verify), try NIOSSLContext(configuration: noVerify))
    }

    /// Connects, upgrades and puts the frame handler in place; everything that happens from then
    /// on goes to `owner` (held weakly: an owner that is gone hears nothing).
    static func connect(_ socket: WebSocketConnection, _ request: Handshake, owner: any WebSocketConnectionOwner) {
        let target = socket.target
        let sslContext: NIOSSLContext?
        switch (target.secure, Self.tlsContexts) {
        case (false, _):
            sslContext = nil
        case (true, .success(let contexts)):
            sslContext = request.verifyCertificate ? contexts.verify : contexts.noVerify
        case (true, .failure(let error)):
            socket.fail("TLS setup failed: \(error)")
            owner.ended(socket)
            return
        }
        let timeout = request.timeout
        var head = HTTPRequestHead(version: .http1_1, method: .GET, uri: target.uri)
        head.headers.add(name: "Host", value: target.hostHeader)
        for (name, value) in request.headers {
            if name.lowercased() == "host" { head.headers.replaceOrAdd(name: "Host", value: value) } else { head.headers.add(name: name, value: value) }
        }
        let asked = request.subprotocols
        if !asked.isEmpty { head.headers.add(name: "Sec-WebSocket-Protocol", value: asked.joined(separator: ", ")) }
        let requestHead = head
        let sni = target.secure && !target.isIPLiteral ? target.host : nil

        let bootstrap = ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connectTimeout(.milliseconds(Int64(timeout * 1000)))
            .channelInitializer { [weak owner] channel in
                channel.eventLoop.makeCompletedFuture {
                    guard owner != nil else { throw ChannelError.ioOnClosedChannel }
                    let sync = channel.pipeline.syncOperations
                    if let sslContext {
                        try sync.addHandler(NIOSSLClientHandler(context: sslContext, serverHostname: sni))
                    }
                    let encoder = HTTPRequestEncoder()
                    let decoder = ByteToMessageHandler(HTTPResponseDecoder(leftOverBytesStrategy: .forwardBytes))
                    let refusal = UpgradeRefusal(socket: socket)
                    let upgrader = NIOTypedWebSocketClientUpgrader<Void>(
                        maxFrameSize: socket.maxMessageSize, enableAutomaticErrorHandling: false,
                        upgradePipelineHandler: { [weak owner] channel, response in
                            channel.eventLoop.makeCompletedFuture {
                                guard let owner else { throw ChannelError.ioOnClosedChannel }
                                try Self.upgraded(socket, owner: owner, channel: channel, response: response, asked: asked)
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
        bootstrap.connect(host: target.host, port: target.port).whenComplete { [weak owner] result in
            switch result {
            case .failure(let error):
                socket.fail(Self.explain(error, timeout: timeout))
                owner?.ended(socket)
            case .success(let channel):
                let abandoned = socket.state.withLock { s in
                    if !s.abandoned { s.channel = channel }
                    return s.abandoned
                }
                channel.closeFuture.whenComplete { [weak owner] _ in
                    // A tick later, so that whatever error closed the channel has recorded its reason.
                    channel.eventLoop.execute { [weak owner] in owner?.ended(socket) }
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

    private static func upgraded(_ socket: WebSocketConnection, owner: any WebSocketConnectionOwner, channel: any Channel,
                                 response: HTTPResponseHead, asked: [String]) throws {
        let chosen = response.headers["Sec-WebSocket-Protocol"].first?.trimmingCharacters(in: .whitespaces) ?? ""
        if !chosen.isEmpty, !asked.contains(chosen) {
            throw Failure(asked.isEmpty
                ? "the server chose subprotocol \(chosen) but none was asked for"
                : "the server chose subprotocol \(chosen), not one of \(asked.joined(separator: ", "))")
        }
        try channel.pipeline.syncOperations.addHandler(FrameHandler(owner: owner, socket: socket))
        let abandoned = socket.state.withLock { s in
            if s.phase == .connecting { s.phase = .open }
            return s.abandoned
        }
        if !abandoned { owner.opened(socket, subprotocol: chosen) }
    }

    /// Writes one text message (masked, as a client must).
    static func send(text bytes: [UInt8], on channel: any Channel) -> EventLoopFuture<Void> {
        channel.writeAndFlush(WebSocketFrame(fin: true, opcode: .text, maskKey: .random(), data: ByteBuffer(bytes: bytes)))
    }

    /// Closes a connection for its owner: an open one with a close frame (`code`, `reason`), one
    /// still connecting as soon as it exists (it sees `abandoned`).
    static func close(_ socket: WebSocketConnection, code: WebSocketErrorCode, reason: String) {
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

    /// A short, plain reason for the owner (and the log).
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

    private let socket: WebSocketConnection
    private var refused = false

    init(socket: WebSocketConnection) { self.socket = socket }

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

/// The WebSocket after the upgrade: text messages (reassembled) to the owner, pings answered,
/// the server's close answered, limits enforced.
private final class FrameHandler: ChannelInboundHandler {
    typealias InboundIn = WebSocketFrame
    typealias OutboundOut = WebSocketFrame

    private weak let owner: (any WebSocketConnectionOwner)?
    private let socket: WebSocketConnection
    private var message: (opcode: WebSocketOpcode, data: ByteBuffer, fragments: Int)?
    private var closing = false
    private var binaryIgnored = 0

    init(owner: any WebSocketConnectionOwner, socket: WebSocketConnection) {
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
        if m.fragments > WebSocketClient.maxFragments {
            return fail(context, .messageTooLarge, "a message in more than \(WebSocketClient.maxFragments) fragments arrived")
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
            if !WebSocketClient.isIncidental(error) { socket.fail("connection lost: \(WebSocketClient.explain(error, timeout: 0))") }
            closing = true
            context.close(promise: nil)
        }
    }

    /// Ends the connection because of the server: the reason for the owner, a close frame for the server.
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
