import Logging
import NIOCore
import NIOWebSocket
import PluginAPI
import Synchronization

/// The WebSocket sockets of one plugin instance (SB_HOST_EXT_WEBSOCKET), e.g. the Sonos local API
/// on `wss://<ip>:1443/websocket/api`; the connections themselves are `WebSocketClient`'s.
///
/// Events go to the plugin's function on its serial executor, in order: SB_WS_OPEN, SB_WS_TEXT …,
/// and exactly one SB_WS_CLOSED — unless the plugin closed the socket first (or it was unloaded),
/// after which nothing is delivered for that socket any more, not even events already queued.
///
/// Bounds: at most `maxSockets` sockets per instance (a socket counts until its SB_WS_CLOSED was
/// delivered or the plugin closed it), incoming messages up to the request's size (default 1 MiB,
/// at most `maxMessageLimit`), at most `maxOutstandingOut` bytes of outgoing messages not yet
/// written (`send_text` answers SB_ERR_BUSY beyond), and reading pauses while `pauseAt` messages
/// wait for a busy plugin (TCP then pushes back on the server) instead of buffering without limit.
final class PluginWebSocket: WebSocketConnectionOwner {
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
    /// Incoming messages waiting for the plugin's executor: reading pauses at `pauseAt` and resumes
    /// at `resumeAt`.
    static let pauseAt = 64
    static let resumeAt = 16

    private struct Entry {
        let socket: WebSocketConnection
        let events: Events
    }

    private struct Table {
        var sockets: [UInt64: Entry] = [:]
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
        let target: WebSocketTarget
        switch WebSocketTarget.parse(request.url) {
        case .success(let t): target = t
        case .failure(let problem): throw HostServiceProblem(status: SB_ERR_INVALID, description: problem.description)
        }
        for (name, value) in request.headers {
            guard WebSocketClient.isToken(name), !value.utf8.contains(where: { $0 == 0x0D || $0 == 0x0A || $0 == 0 }) else {
                throw HostServiceProblem(status: SB_ERR_INVALID, description: "handshake header \(String(reflecting: name)) is not a valid HTTP header")
            }
            guard !WebSocketClient.reservedHeaders.contains(name.lowercased()) else {
                throw HostServiceProblem(status: SB_ERR_INVALID, description: "handshake header \(name) is set by the host"
                    + (name.lowercased() == "sec-websocket-protocol" ? " (use `subprotocol`)" : ""))
            }
        }
        let asked = request.subprotocol.map(WebSocketClient.subprotocols) ?? []
        if let sub = request.subprotocol {
            guard !asked.isEmpty, asked.allSatisfy(WebSocketClient.isToken) else {
                throw HostServiceProblem(status: SB_ERR_INVALID, description: "subprotocol \(String(reflecting: sub)) is not a token (or a comma-separated list of tokens)")
            }
        }
        let id = nextID.wrappingAdd(1, ordering: .relaxed).oldValue
        let socket = WebSocketConnection(id: id, target: target,
                                         maxMessageSize: max(125, min(request.maxMessageSize, Self.maxMessageLimit)))
        let refusal: String? = table.withLock { t in
            if t.closed { return "the plugin is being unloaded" }
            if t.sockets.count >= Self.maxSockets { return "too many WebSockets (at most \(Self.maxSockets) per plugin)" }
            t.sockets[id] = Entry(socket: socket, events: events)
            return nil
        }
        if let refusal { throw HostServiceProblem(status: SB_ERR_BUSY, description: refusal) }
        assigned(id)
        logger.debug("plugin \(label): WebSocket \(id): connecting to \(target)")
        WebSocketClient.connect(socket, .init(headers: request.headers, subprotocols: asked,
                                              verifyCertificate: request.verifyCertificate, timeout: request.timeout),
                                owner: self)
    }

    // MARK: send, close

    /// Queues one text message. SB_OK once it is queued (a write that then fails ends the socket
    /// with SB_WS_CLOSED); SB_ERR_NOT_FOUND unknown or closed id; SB_ERR_BUSY not open yet or too
    /// much not yet written; SB_ERR_FAILED the connection has ended (SB_WS_CLOSED is on its way);
    /// SB_ERR_INVALID not UTF-8 or too big.
    func sendText(_ id: UInt64, bytes: [UInt8]) -> Int32 {
        guard let socket = table.withLock({ $0.sockets[id]?.socket }) else { return SB_ERR_NOT_FOUND }
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
        WebSocketClient.send(text: bytes, on: channel).whenComplete { result in
            socket.outstandingOut.wrappingSubtract(size, ordering: .relaxed)
            if case .failure(let error) = result, !WebSocketClient.isIncidental(error), socket.phase == .open {
                socket.fail("sending failed: \(WebSocketClient.explain(error, timeout: 0))")
                channel.close(promise: nil)
            }
        }
        return SB_OK
    }

    /// The plugin closes a socket: no event follows. An open connection gets a close frame (1000).
    func close(_ id: UInt64) {
        guard let socket = table.withLock({ $0.sockets.removeValue(forKey: id)?.socket }) else { return }
        logger.debug("plugin \(label): WebSocket \(id) closed by the plugin (\(socket.target))")
        WebSocketClient.close(socket, code: .normalClosure, reason: "")
    }

    /// Closes every socket (1001 "going away"); later `open`s fail. Nothing is delivered any more.
    func closeAll() {
        let all = table.withLock { t in
            t.closed = true
            defer { t.sockets.removeAll() }
            return t.sockets.values.map(\.socket)
        }
        for socket in all { WebSocketClient.close(socket, code: .goingAway, reason: "plugin unloaded") }
    }

    // MARK: events

    func opened(_ socket: WebSocketConnection, subprotocol: String) {
        let protocolNote = subprotocol.isEmpty ? "" : ", subprotocol \(subprotocol)"
        logger.debug("plugin \(label): WebSocket \(socket.id) open: \(socket.target)\(protocolNote)")
        deliver(socket, SB_WS_OPEN, Array(subprotocol.utf8))
    }

    /// The connection is gone (or never came): one SB_WS_CLOSED, unless the plugin closed it.
    func ended(_ socket: WebSocketConnection) {
        let (wasPhase, reason) = socket.state.withLock { s -> (WebSocketConnection.Phase, String) in
            let was = s.phase
            s.phase = .ended
            s.channel = nil
            let fallback = was == .open ? "the server closed the connection without a close frame"
                                        : "the connection closed during the handshake"
            return (was, s.reason ?? fallback)
        }
        guard wasPhase != .ended else { return }
        logger.debug("plugin \(label): WebSocket \(socket.id) (\(socket.target)) ended: \(reason)")
        executor.async { [weak self] in
            // Closed by the plugin (or unloaded) meanwhile: it must not hear from this socket again.
            guard let self, let events = self.table.withLock({ t -> Events? in
                guard let entry = t.sockets[socket.id], entry.socket === socket else { return nil }
                t.sockets.removeValue(forKey: socket.id)
                return entry.events
            }) else { return }
            Self.call(events, socket.id, SB_WS_CLOSED, Array(reason.utf8))
        }
    }

    /// The socket's events while the plugin still has it open; nil once it closed it (or unloaded).
    private func events(of socket: WebSocketConnection) -> Events? {
        table.withLock { t in
            guard let entry = t.sockets[socket.id], entry.socket === socket else { return nil }
            return entry.events
        }
    }

    private func deliver(_ socket: WebSocketConnection, _ event: Int32, _ bytes: [UInt8]) {
        executor.async { [weak self] in
            guard let self, let events = self.events(of: socket) else { return }
            Self.call(events, socket.id, event, bytes)
        }
    }

    /// A text message for the plugin; pauses reading while too many wait for its executor.
    func received(_ socket: WebSocketConnection, text: [UInt8], channel: any Channel) {
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
        executor.async { [weak self] in
            let resume = socket.state.withLock { s -> (any Channel)? in
                s.waiting -= 1
                guard s.paused, s.waiting <= Self.resumeAt else { return nil }
                s.paused = false
                return s.channel
            }
            resume?.setOption(ChannelOptions.autoRead, value: true).whenComplete { _ in }
            guard let self, let events = self.events(of: socket) else { return }
            Self.call(events, socket.id, SB_WS_TEXT, text)
        }
    }

    func note(_ socket: WebSocketConnection, _ message: String) {
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
}
