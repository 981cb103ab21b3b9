import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization

struct HTTPRequest: Sendable {
    let method: HTTPMethod
    let path: String
    let headers: HTTPHeaders
    let body: Data
}

struct HTTPResponse: Sendable {
    var status: HTTPResponseStatus
    var headers = HTTPHeaders()
    var body = Data()
    /// Runs once the response has been written (GENA's initial NOTIFY).
    var afterSend: (@Sendable () -> Void)?

    init(status: HTTPResponseStatus, headers: HTTPHeaders = HTTPHeaders(), body: Data = Data()) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    static func status(_ s: HTTPResponseStatus) -> HTTPResponse { HTTPResponse(status: s) }

    static func xml(_ text: String, status: HTTPResponseStatus = .ok) -> HTTPResponse {
        var r = HTTPResponse(status: status, body: Data(text.utf8))
        r.headers.add(name: "CONTENT-TYPE", value: "text/xml; charset=\"utf-8\"")
        return r
    }
}

/// One player's HTTP/1.1 server on 127.0.0.1 (never any other address). It can be taken off the
/// network and brought back on the same port, like a player losing power or Wi-Fi.
final class PlayerHTTPServer: Sendable {
    typealias Handler = @Sendable (HTTPRequest) async -> HTTPResponse

    private struct Running {
        let listener: Channel
        let task: Task<Void, Never>
    }

    private let group: EventLoopGroup
    private let handler: Handler
    /// The address it binds: 127.0.0.1, or the player's own loopback address (FakeSonosAddressing).
    let host: String
    /// `Linux UPnP/1.0 Sonos/… (ZP<model>)`, on every answer as a real player sends it.
    private let serverHeader: String
    private let running = Mutex<Running?>(nil)
    private let connections = Mutex<[ObjectIdentifier: Channel]>([:])
    private typealias Connection = NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>
    /// Accepted but not yet taken by the accept loop. NIO traps when such a channel is deinited
    /// without `executeThenClose` ("Deinited NIOAsyncWriter without calling finish()"): one that
    /// arrives while the server stops would be, so each is held here until it is served or closed.
    private let accepted = Mutex<[ObjectIdentifier: Connection]>([:])
    private let stopping = Mutex(false)

    private struct Stopping: Error {}

    init(group: EventLoopGroup, host: String = "127.0.0.1", serverHeader: String = FakeSonosModel.era100.serverHeader, handler: @escaping Handler) {
        self.group = group
        self.host = host
        self.serverHeader = serverHeader
        self.handler = handler
    }

    /// Binds `host`:`port` (0 = ephemeral) and returns the bound port.
    func start(port: Int = 0) async throws -> Int {
        stopping.withLock { $0 = false }
        let server = try await ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .bind(host: host, port: port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    if self.stopping.withLock({ $0 }) { throw Stopping() }
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: true)
                    let connection = try Connection(wrappingChannelSynchronously: channel)
                    self.accepted.withLock { $0[ObjectIdentifier(channel)] = connection }
                    return connection
                }
            }
        let listener = server.channel
        let boundPort = listener.localAddress?.port ?? port
        let handler = self.handler
        let task = Task<Void, Never> { [self] in
            _ = try? await server.executeThenClose { inbound in
                try await withThrowingDiscardingTaskGroup { group in
                    for try await connection in inbound {
                        let id = ObjectIdentifier(connection.channel)
                        self.accepted.withLock { _ = $0.removeValue(forKey: id) }
                        self.connections.withLock { $0[id] = connection.channel }
                        group.addTask {
                            try? await Self.serve(connection, serverHeader: self.serverHeader, handler: handler)
                            self.connections.withLock { $0[id] = nil }
                        }
                    }
                }
            }
        }
        running.withLock { $0 = Running(listener: listener, task: task) }
        return boundPort
    }

    /// Stops listening and drops every open connection.
    func stop() async {
        guard let r = running.withLock({ value -> Running? in
            let r = value
            value = nil
            return r
        }) else { return }
        stopping.withLock { $0 = true }
        try? await r.listener.close()
        for channel in connections.withLock({ Array($0.values) }) { try? await channel.close() }
        // Let the accept loop end by itself once the listener is closed: cancelling it could leave a
        // connection it had accepted but not yet served, and NIO traps when such a channel is
        // deinited unused ("Deinited NIOAsyncWriter without calling finish()", seen under load).
        // Cancel only if it has not ended after two seconds.
        let task = r.task
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await task.value }
            group.addTask {
                try? await Task.sleep(for: .seconds(2))
                task.cancel()
            }
            await group.next()
            group.cancelAll()
        }
        await task.value
        for connection in accepted.withLock({ a in defer { a.removeAll() }; return Array(a.values) }) {
            try? await connection.executeThenClose { _, _ in }
        }
    }

    private static func serve(_ connection: NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>, serverHeader: String,
                              handler: Handler) async throws {
        try await connection.executeThenClose { inbound, outbound in
            var head: HTTPRequestHead?
            var body = Data()
            for try await part in inbound {
                switch part {
                case .head(let h):
                    head = h
                    body = Data()
                case .body(let buffer):
                    body.append(contentsOf: buffer.readableBytesView)
                case .end:
                    guard let h = head else { continue }
                    head = nil
                    let path = String(h.uri.split(separator: "?", maxSplits: 1).first ?? "")
                    let response = await handler(HTTPRequest(method: h.method, path: path, headers: h.headers, body: body))
                    // Also when writing fails: a client that asked for `Connection: close` may hang up
                    // once it has the (empty-bodied) answer, and a real player still sends the
                    // initial event of the subscription it granted.
                    defer { response.afterSend?() }
                    var headers = response.headers
                    headers.replaceOrAdd(name: "Server", value: serverHeader)
                    headers.replaceOrAdd(name: "Content-Length", value: String(response.body.count))
                    if !h.isKeepAlive { headers.replaceOrAdd(name: "Connection", value: "close") }
                    try await outbound.write(.head(HTTPResponseHead(version: h.version, status: response.status,
                                                                    headers: headers)))
                    if h.method != .HEAD, !response.body.isEmpty {
                        try await outbound.write(.body(.byteBuffer(ByteBuffer(bytes: response.body))))
                    }
                    try await outbound.write(.end(nil))
                    if !h.isKeepAlive { return }
                }
            }
        }
    }
}
