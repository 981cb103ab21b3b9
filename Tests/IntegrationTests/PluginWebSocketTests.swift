import Foundation
import LabKit
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import NIOWebSocket
import Synchronization
import XCTest

/// The host's WebSocket client (SB_HOST_EXT_WEBSOCKET) and the HTTP client's SB_HTTP_TLS_NO_VERIFY,
/// end to end through the `ws_probe` fixture against an in-test SwiftNIO server.
///
/// Network safety: every server binds 127.0.0.1 and every URL the plugin is given is
/// ws(s)/https://127.0.0.1:<port>; nothing leaves the machine.
final class PluginWebSocketTests: XCTestCase {
    let probeID = "org.speakerbridge.test.ws-probe"

    private func probeDaemon(config: String? = nil) throws -> PluginDaemon {
        try PluginDaemon(settings: ["network.interface": "lo", "media.bind": "127.0.0.1"]) { dir, _ in
            try PluginBuild.fixture("ws_probe", to: dir + "/ws-probe.so")
            if let config { try config.write(toFile: dir + "/ws-probe.json", atomically: true, encoding: .utf8) }
        }
    }

    private func command(_ lab: PluginDaemon, _ name: String, _ args: [String: Any] = [:]) throws -> [String: Any] {
        let answer = try lab.request("plugin/\(probeID)/\(name)", args)
        XCTAssertEqual(answer["status"] as? String, "ok", "\(name) \(args) → \(answer)")
        return answer["data"] as? [String: Any] ?? [:]
    }

    /// Opens a socket; returns its id (asserting the open was accepted).
    private func open(_ lab: PluginDaemon, _ url: String, _ extra: [String: Any] = [:]) throws -> Int {
        XCTAssertTrue(url.hasPrefix("ws://127.0.0.1:") || url.hasPrefix("wss://127.0.0.1:"), "loopback only: \(url)")
        var args = extra
        args["url"] = url
        let opened = try command(lab, "ws_open", args)
        XCTAssertEqual(opened["status"] as? Int, 0, "\(opened)")
        return try XCTUnwrap(opened["socket"] as? Int)
    }

    private func wsEvents(_ lab: PluginDaemon, socket: Int) -> [[String: Any]] {
        lab.client.messages(on: "\(lab.base)/bridge/event/plugin/\(probeID)/ws").map(json).filter { $0["socket"] as? Int == socket }
    }

    /// The next `ws` event of `socket` that is `event` (and matches), within `timeout`.
    @discardableResult
    private func wsEvent(_ lab: PluginDaemon, socket: Int, _ event: String, timeout: Double = 10,
                         _ match: @escaping ([String: Any]) -> Bool = { _ in true }) throws -> [String: Any] {
        json(try lab.client.waitFor("\(lab.base)/bridge/event/plugin/\(probeID)/ws", timeout: timeout) {
            let e = json($0)
            return e["socket"] as? Int == socket && e["event"] as? String == event && match(e)
        })
    }

    private func send(_ lab: PluginDaemon, _ socket: Int, _ text: String, repeat count: Int = 1) throws -> Int {
        try XCTUnwrap(try command(lab, "ws_send", ["socket": socket, "text": text, "repeat": count])["status"] as? Int)
    }

    // MARK: talking

    func testTextEchoSubprotocolHeadersPingsFragmentsAndCloses() throws {
        let pki = try TestPKI.make(in: try TempDirectory(prefix: "sbws-pki").path)
        let server = try LoopbackWebSocketServer(tls: pki)
        defer { server.stop() }
        let lab = try probeDaemon()
        XCTAssertTrue(try lab.info().description.contains(probeID))

        // wss to a self-signed server with the no-verify flag: open, with the subprotocol the server chose.
        let socket = try open(lab, "wss://127.0.0.1:\(server.port)/echo?room=kitchen",
                              ["subprotocol": "v1.api.smartspeaker.audio", "no_verify": true, "header": "X-Sonos-Api-Key: 123-abc"])
        let opened = try wsEvent(lab, socket: socket, "open")
        XCTAssertEqual(opened["data"] as? String, "v1.api.smartspeaker.audio")
        XCTAssertEqual(opened["thread_ok"] as? Bool, true)
        XCTAssertEqual(opened["terminated"] as? Bool, true)
        // The handshake carried the plugin's header, the subprotocol, the path and query and Host.
        let handshake = try XCTUnwrap(server.recorder.handshakes.last)
        XCTAssertEqual(handshake.uri, "/echo?room=kitchen")
        XCTAssertEqual(handshake.headers["x-sonos-api-key"], "123-abc", "\(handshake.headers)")
        XCTAssertEqual(handshake.headers["sec-websocket-protocol"], "v1.api.smartspeaker.audio")
        XCTAssertEqual(handshake.headers["host"], "127.0.0.1:\(server.port)")

        // Text both ways, UTF-8 intact.
        XCTAssertEqual(try send(lab, socket, "hello, Küche ♪"), 0)
        let echo = try wsEvent(lab, socket: socket, "text") { ($0["data"] as? String)?.hasPrefix("echo:") == true }
        XCTAssertEqual(echo["data"] as? String, "echo:hello, Küche ♪")
        XCTAssertEqual(echo["size"] as? Int, "echo:hello, Küche ♪".utf8.count)
        XCTAssertEqual(echo["terminated"] as? Bool, true, "the data is NUL-terminated for C")

        // A fragmented message arrives whole; a binary one is ignored; a ping is answered with a pong.
        XCTAssertEqual(try send(lab, socket, "frag"), 0)
        XCTAssertEqual(try wsEvent(lab, socket: socket, "text") { $0["data"] as? String == "one-two-three" }["size"] as? Int, 13)
        XCTAssertEqual(try send(lab, socket, "binary"), 0)
        try wsEvent(lab, socket: socket, "text") { $0["data"] as? String == "after-binary" }
        XCTAssertEqual(try send(lab, socket, "ping:are you there"), 0)
        try wsEvent(lab, socket: socket, "text") { $0["data"] as? String == "pong:are you there" }
        // A message up to the default cap (1 MiB) is fine.
        XCTAssertEqual(try send(lab, socket, "big:1000000"), 0)
        XCTAssertEqual(try wsEvent(lab, socket: socket, "text") { $0["size"] as? Int == 1_000_000 }["size"] as? Int, 1_000_000)
        // And a big one out.
        XCTAssertEqual(try send(lab, socket, "0123456789", repeat: 50_000), 0)
        try wsEvent(lab, socket: socket, "text") { $0["data"] as? String == "got 500000 bytes" }
        // Every event so far came one at a time, on the executor.
        XCTAssertTrue(wsEvents(lab, socket: socket).allSatisfy { $0["thread_ok"] as? Bool == true })

        // The server closes: exactly one SB_WS_CLOSED with its code and reason; then the id is gone.
        XCTAssertEqual(try send(lab, socket, "close-me"), 0)
        let closed = try wsEvent(lab, socket: socket, "closed")
        XCTAssertEqual(closed["data"] as? String, "closed by the server (4000: bye)")
        Thread.sleep(forTimeInterval: 1)
        XCTAssertEqual(wsEvents(lab, socket: socket).filter { $0["event"] as? String == "closed" }.count, 1)
        XCTAssertEqual(wsEvents(lab, socket: socket).last?["event"] as? String, "closed", "nothing follows SB_WS_CLOSED")
        XCTAssertEqual(try send(lab, socket, "anyone?"), -5, "a closed socket is unknown")
        XCTAssertTrue(waitUntil(timeout: 5) { server.recorder.closeCodes.contains(4000) }, "the close was answered with the same code")

        // Plain ws://, no subprotocol: "" in SB_WS_OPEN. The plugin closes: the server gets 1000, no event follows.
        let plain = try open(lab, "ws://127.0.0.1:\(server.plainPort)/echo")
        XCTAssertEqual(try wsEvent(lab, socket: plain, "open")["data"] as? String, "")
        XCTAssertEqual(try send(lab, plain, "x"), 0)
        try wsEvent(lab, socket: plain, "text") { $0["data"] as? String == "echo:x" }
        _ = try command(lab, "ws_close", ["socket": plain])
        XCTAssertTrue(waitUntil(timeout: 5) { server.recorder.closeCodes.contains(1000) }, "\(server.recorder.closeCodes)")
        Thread.sleep(forTimeInterval: 0.5)
        XCTAssertFalse(wsEvents(lab, socket: plain).contains { $0["event"] as? String == "closed" }, "no event after the plugin's close")
        XCTAssertEqual(try send(lab, plain, "x"), -5)

        // The server goes away without a close frame.
        let dropped = try open(lab, "ws://127.0.0.1:\(server.plainPort)/echo")
        try wsEvent(lab, socket: dropped, "open")
        XCTAssertEqual(try send(lab, dropped, "drop"), 0)
        XCTAssertEqual(try wsEvent(lab, socket: dropped, "closed")["data"] as? String,
                       "the server closed the connection without a close frame")

        // Unloading the plugin (a reload) closes its sockets with 1001 "going away".
        let kept = try open(lab, "ws://127.0.0.1:\(server.plainPort)/echo")
        try wsEvent(lab, socket: kept, "open")
        XCTAssertEqual(try lab.request("plugins/reload", ["id": probeID])["status"] as? String, "ok")
        XCTAssertTrue(waitUntil(timeout: 5) { server.recorder.closeCodes.contains(1001) }, "\(server.recorder.closeCodes)")
    }

    // MARK: failing

    func testEveryFailureEndsInOneClosedEventWithAClearReason() throws {
        let pki = try TestPKI.make(in: try TempDirectory(prefix: "sbws-pki").path)
        let server = try LoopbackWebSocketServer(tls: pki)
        defer { server.stop() }
        let silent = try SilentServer()
        defer { silent.stop() }
        let lab = try probeDaemon()

        func closedReason(_ url: String, _ extra: [String: Any] = [:], timeout: Double = 15) throws -> String {
            let socket = try open(lab, url, extra)
            let closed = try wsEvent(lab, socket: socket, "closed", timeout: timeout)
            XCTAssertFalse(wsEvents(lab, socket: socket).contains { $0["event"] as? String == "open" }, "\(url) never opened")
            return closed["data"] as? String ?? ""
        }

        // A self-signed certificate without the flag: the TLS handshake fails and says why.
        let untrusted = try closedReason("wss://127.0.0.1:\(server.port)/echo")
        XCTAssertTrue(untrusted.hasPrefix("TLS handshake failed: "), untrusted)
        XCTAssertTrue(untrusted.contains("not trusted"), untrusted)
        // Nobody listening.
        XCTAssertEqual(try closedReason("ws://127.0.0.1:\(freePort())/"), "connection refused")
        // The server answers the upgrade with 403.
        XCTAssertEqual(try closedReason("wss://127.0.0.1:\(server.port)/forbidden", ["no_verify": true]),
                       "server refused the upgrade: HTTP 403 Forbidden")
        // It accepts the connection but never answers: the handshake times out.
        let started = Date()
        XCTAssertEqual(try closedReason("ws://127.0.0.1:\(silent.port)/", ["timeout_ms": 700]), "timed out after 0.7 s")
        XCTAssertLessThan(Date().timeIntervalSince(started), 5)
        // TLS spoken to a plain server.
        let notTLS = try closedReason("wss://127.0.0.1:\(server.plainPort)/echo", ["no_verify": true])
        XCTAssertTrue(notTLS.hasPrefix("TLS handshake failed"), notTLS)
        // A subprotocol nobody asked for.
        let wrong = try closedReason("ws://127.0.0.1:\(server.plainPort)/echo-wrong-protocol", ["subprotocol": "v1"])
        XCTAssertTrue(wrong.contains("subprotocol not-asked"), wrong)

        // Messages over the cap close the socket (1009 to the server), whole or in fragments.
        for request in ["big:5000", "bigfrag:5000"] {
            let socket = try open(lab, "ws://127.0.0.1:\(server.plainPort)/echo", ["max_message": 1000])
            try wsEvent(lab, socket: socket, "open")
            XCTAssertEqual(try send(lab, socket, "small"), 0)
            try wsEvent(lab, socket: socket, "text") { $0["data"] as? String == "echo:small" }
            XCTAssertEqual(try send(lab, socket, request), 0)
            XCTAssertEqual(try wsEvent(lab, socket: socket, "closed")["data"] as? String, "a message larger than 1000 bytes arrived")
            XCTAssertFalse(wsEvents(lab, socket: socket).contains { ($0["size"] as? Int ?? 0) > 1000 })
        }
        XCTAssertTrue(waitUntil(timeout: 5) { server.recorder.closeCodes.filter { $0 == 1009 }.count == 2 }, "\(server.recorder.closeCodes)")

        // Refused at once: not a ws URL, a header the host owns, sending before the open, too many sockets.
        XCTAssertEqual(try command(lab, "ws_open", ["url": "http://127.0.0.1:\(server.plainPort)/"])["status"] as? Int, -1)
        XCTAssertEqual(try command(lab, "ws_open", ["url": "ws://127.0.0.1:\(server.plainPort)/", "header": "Upgrade: h2c"])["status"] as? Int, -1)
        XCTAssertEqual(try send(lab, 987_654, "x"), -5)
        let pending = try (0..<16).map { _ in try open(lab, "ws://127.0.0.1:\(silent.port)/", ["timeout_ms": 20_000]) }
        XCTAssertEqual(try send(lab, pending[0], "too early"), -6, "not open yet")
        XCTAssertEqual(try command(lab, "ws_open", ["url": "ws://127.0.0.1:\(silent.port)/"])["status"] as? Int, -6, "at most 16")
        for socket in pending { _ = try command(lab, "ws_close", ["socket": socket]) }
        let again = try open(lab, "ws://127.0.0.1:\(server.plainPort)/echo")
        try wsEvent(lab, socket: again, "open")
        Thread.sleep(forTimeInterval: 0.3)
        for socket in pending { XCTAssertTrue(wsEvents(lab, socket: socket).isEmpty, "closed by the plugin while connecting: silent") }

        // Every failed socket got exactly one SB_WS_CLOSED.
        let all = lab.client.messages(on: "\(lab.base)/bridge/event/plugin/\(probeID)/ws").map(json)
        let closedCounts = Dictionary(grouping: all.filter { $0["event"] as? String == "closed" }) { $0["socket"] as? Int ?? -1 }
        XCTAssertTrue(closedCounts.values.allSatisfy { $0.count == 1 }, "\(closedCounts)")
    }

    // MARK: plugin check

    func testAnOfflineCheckOpensNoWebSocket() throws {
        let server = try LoopbackWebSocketServer(tls: nil)
        defer { server.stop() }
        let dir = try TempDirectory(prefix: "sbws-check")
        try PluginBuild.fixture("ws_probe", to: dir.path + "/ws-probe.so")
        try #"{"open_on_create": "ws://127.0.0.1:\#(server.plainPort)/echo"}"#.write(toFile: dir.path + "/ws-probe.json", atomically: true, encoding: .utf8)
        let check = try DaemonProcess.run(arguments: ["plugin", "check", dir.path + "/ws-probe.so"])
        XCTAssertEqual(check.status, 0, check.output)
        XCTAssertTrue(check.output.contains("open on create: -2"), "open is refused in an offline check: \(check.output)")
        Thread.sleep(forTimeInterval: 0.3)
        XCTAssertEqual(server.recorder.connections, 0, "nothing connected")
    }

    // MARK: HTTP flags

    func testHTTPSWithTheNoVerifyFlagAndTheOldStructLayout() throws {
        let pki = try TestPKI.make(in: try TempDirectory(prefix: "sbws-pki").path)
        let server = try LoopbackWebSocketServer(tls: pki)
        defer { server.stop() }
        let lab = try probeDaemon()
        let url = "https://127.0.0.1:\(server.port)/hello"

        func get(_ args: [String: Any]) throws -> [String: Any] {
            let start = ContinuousClock.now
            var all = args
            all["url"] = url
            XCTAssertEqual(try command(lab, "http_get", all)["status"] as? Int, 0, "accepted: \(args)")
            return json(try lab.client.waitFor("\(lab.base)/bridge/event/plugin/\(probeID)/http", timeout: 15) { $0.receivedAt > start })
        }
        let unverified = try get(["no_verify": true])
        XCTAssertEqual(unverified["status"] as? Int, 0, "\(unverified)")
        XCTAssertEqual(unverified["http_status"] as? Int, 200)
        XCTAssertEqual(unverified["body"] as? String, "hello over TLS")
        let verified = try get([:])
        XCTAssertEqual(verified["status"] as? Int, -3, "a self-signed certificate is refused without the flag: \(verified)")
        XCTAssertTrue((verified["error"] as? String ?? "").contains("CERTIFICATE_VERIFY_FAILED"), "\(verified)")
        // A plugin built against 1.0 (struct_size ends before `flags`) is accepted, and what lies
        // beyond its struct is not read: the flag set there has no effect.
        let legacy = try get(["no_verify": true, "legacy": true])
        XCTAssertEqual(legacy["status"] as? Int, -3, "\(legacy)")
        XCTAssertEqual(try get(["no_verify": true])["http_status"] as? Int, 200, "the unverified client is reused")
    }
}

// MARK: - servers (127.0.0.1 only)

/// What the test server saw.
final class ServerRecorder: Sendable {
    struct Handshake: Sendable {
        let uri: String
        let headers: [String: String]
    }
    private struct State {
        var handshakes: [Handshake] = []
        var closeCodes: [Int] = []
        var connections = 0
    }
    private let state = Mutex(State())

    var handshakes: [Handshake] { state.withLock { $0.handshakes } }
    var closeCodes: [Int] { state.withLock { $0.closeCodes } }
    var connections: Int { state.withLock { $0.connections } }

    func record(_ head: HTTPRequestHead) {
        var headers: [String: String] = [:]
        for (name, value) in head.headers { headers[name.lowercased()] = value }
        state.withLock { $0.handshakes.append(Handshake(uri: head.uri, headers: headers)) }
    }
    func recordClose(_ code: Int) { state.withLock { $0.closeCodes.append(code) } }
    func connected() { state.withLock { $0.connections += 1 } }
}

/// A WebSocket + HTTP server on 127.0.0.1: `port` with TLS (when given a PKI), `plainPort` without.
///
/// WebSocket paths: `/echo` (and `/echo-wrong-protocol`, which answers a subprotocol nobody asked
/// for); anything else is refused with 403. Text commands on a socket: "close-me" (close 4000
/// "bye"), "frag", "binary", "ping:<data>", "big:<n>", "bigfrag:<n>", "drop" (no close frame);
/// anything else is echoed as "echo:<text>", and texts over 1000 bytes are answered "got <n> bytes".
/// HTTP: GET /hello answers "hello over TLS".
final class LoopbackWebSocketServer: Sendable {
    let recorder = ServerRecorder()
    private let tlsChannel: (any Channel)?
    private let plainChannel: any Channel

    var port: Int { tlsChannel?.localAddress?.port ?? 0 }
    var plainPort: Int { plainChannel.localAddress?.port ?? 0 }

    init(tls pki: TestPKI?) throws {
        let recorder = self.recorder
        if let pki {
            let chain = try NIOSSLCertificate.fromPEMFile(pki.serverCert).map { NIOSSLCertificateSource.certificate($0) }
            let key = try NIOSSLPrivateKey(file: pki.serverKey, format: .pem)
            let context = try NIOSSLContext(configuration: .makeServerConfiguration(certificateChain: chain, privateKey: .privateKey(key)))
            tlsChannel = try Self.bind(tls: context, recorder: recorder)
        } else {
            tlsChannel = nil
        }
        plainChannel = try Self.bind(tls: nil, recorder: recorder)
    }

    func stop() {
        tlsChannel?.close(promise: nil)
        plainChannel.close(promise: nil)
    }

    private static func bind(tls: NIOSSLContext?, recorder: ServerRecorder) throws -> any Channel {
        try ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                recorder.connected()
                return channel.eventLoop.makeCompletedFuture {
                    let sync = channel.pipeline.syncOperations
                    if let tls { try sync.addHandler(NIOSSLServerHandler(context: tls)) }
                    let upgrader = NIOWebSocketServerUpgrader(
                        maxFrameSize: 1 << 24,
                        shouldUpgrade: { channel, head in
                            recorder.record(head)
                            guard head.uri.hasPrefix("/echo") else { return channel.eventLoop.makeSucceededFuture(nil) }
                            var headers = HTTPHeaders()
                            let offered = head.headers["Sec-WebSocket-Protocol"].flatMap { $0.split(separator: ",") }
                                .map { $0.trimmingCharacters(in: .whitespaces) }
                            if head.uri.hasPrefix("/echo-wrong-protocol") {
                                headers.add(name: "Sec-WebSocket-Protocol", value: "not-asked")
                            } else if let first = offered.first {
                                headers.add(name: "Sec-WebSocket-Protocol", value: first)
                            }
                            return channel.eventLoop.makeSucceededFuture(headers)
                        },
                        upgradePipelineHandler: { channel, _ in
                            channel.eventLoop.makeCompletedFuture {
                                // The plain HTTP handler sits before the frame handlers the upgrader added.
                                let sync = channel.pipeline.syncOperations
                                sync.removeHandler(context: try sync.context(handlerType: PlainHTTPHandler.self), promise: nil)
                                try sync.addHandler(EchoHandler(recorder: recorder))
                            }
                        })
                    try sync.configureHTTPServerPipeline(withServerUpgrade: (upgraders: [upgrader], completionHandler: { _ in }))
                    try sync.addHandler(PlainHTTPHandler())
                }
            }
            .bind(host: "127.0.0.1", port: 0).wait()
    }
}

/// The server side of one WebSocket (frames from the client are masked; ours are not).
private final class EchoHandler: ChannelInboundHandler {
    typealias InboundIn = WebSocketFrame
    typealias OutboundOut = WebSocketFrame

    private let recorder: ServerRecorder
    private var closing = false
    private var assembled = ByteBuffer()

    init(recorder: ServerRecorder) { self.recorder = recorder }

    private func send(_ context: ChannelHandlerContext, _ opcode: WebSocketOpcode, _ text: String, fin: Bool = true) {
        var buffer = context.channel.allocator.buffer(capacity: text.utf8.count)
        buffer.writeString(text)
        context.writeAndFlush(wrapOutboundOut(WebSocketFrame(fin: fin, opcode: opcode, data: buffer)), promise: nil)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        switch frame.opcode {
        case .connectionClose:
            var body = frame.unmaskedData
            recorder.recordClose(body.readInteger(as: UInt16.self).map(Int.init) ?? 1005)
            if !closing {
                closing = true
                var answer = context.channel.allocator.buffer(capacity: 2)
                answer.writeInteger(UInt16(1000))
                let channel = context.channel
                context.writeAndFlush(wrapOutboundOut(WebSocketFrame(fin: true, opcode: .connectionClose, data: answer)))
                    .whenComplete { _ in channel.close(promise: nil) }
            } else {
                context.close(promise: nil)
            }
        case .pong:
            var body = frame.unmaskedData
            send(context, .text, "pong:" + (body.readString(length: body.readableBytes) ?? ""))
        case .text, .continuation:
            var part = frame.unmaskedData
            assembled.writeBuffer(&part)
            guard frame.fin else { return }
            let text = assembled.readString(length: assembled.readableBytes) ?? ""
            assembled.clear()
            handle(context, text)
        default:
            break
        }
    }

    private func handle(_ context: ChannelHandlerContext, _ text: String) {
        if text == "close-me" {
            closing = true
            var body = context.channel.allocator.buffer(capacity: 8)
            body.writeInteger(UInt16(4000))
            body.writeString("bye")
            context.writeAndFlush(wrapOutboundOut(WebSocketFrame(fin: true, opcode: .connectionClose, data: body)), promise: nil)
        } else if text == "frag" {
            send(context, .text, "one-", fin: false)
            send(context, .continuation, "two-", fin: false)
            send(context, .continuation, "three")
        } else if text == "binary" {
            context.write(wrapOutboundOut(WebSocketFrame(fin: true, opcode: .binary, data: ByteBuffer(bytes: [0, 1, 2, 255]))), promise: nil)
            send(context, .text, "after-binary")
        } else if text.hasPrefix("ping:") {
            var body = context.channel.allocator.buffer(capacity: 32)
            body.writeString(String(text.dropFirst(5)))
            context.writeAndFlush(wrapOutboundOut(WebSocketFrame(fin: true, opcode: .ping, data: body)), promise: nil)
        } else if text.hasPrefix("bigfrag:"), let n = Int(text.dropFirst(8)) {
            var sent = 0
            while sent < n {
                let chunk = min(100, n - sent)
                send(context, sent == 0 ? .text : .continuation, String(repeating: "y", count: chunk), fin: sent + chunk == n)
                sent += chunk
            }
        } else if text.hasPrefix("big:"), let n = Int(text.dropFirst(4)) {
            send(context, .text, String(repeating: "x", count: n))
        } else if text == "drop" {
            context.close(promise: nil)
        } else if text.utf8.count > 1000 {
            send(context, .text, "got \(text.utf8.count) bytes")
        } else {
            send(context, .text, "echo:" + text)
        }
    }
}

/// Plain HTTP after the upgrade handler declined: /hello answers, everything else is 403.
private final class PlainHTTPHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private var uri = ""

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head): uri = head.uri
        case .body: break
        case .end:
            let (status, text): (HTTPResponseStatus, String) = uri == "/hello" ? (.ok, "hello over TLS") : (.forbidden, "forbidden")
            var headers = HTTPHeaders()
            headers.add(name: "Content-Length", value: String(text.utf8.count))
            headers.add(name: "Content-Type", value: "text/plain")
            context.write(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: status, headers: headers))), promise: nil)
            context.write(wrapOutboundOut(.body(.byteBuffer(ByteBuffer(string: text)))), promise: nil)
            context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
        }
    }
}

/// Accepts TCP connections on 127.0.0.1 and never says a word.
final class SilentServer: Sendable {
    private let channel: any Channel
    var port: Int { channel.localAddress?.port ?? 0 }

    init() throws {
        channel = try ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .childChannelInitializer { $0.eventLoop.makeSucceededVoidFuture() }
            .bind(host: "127.0.0.1", port: 0).wait()
    }

    func stop() { channel.close(promise: nil) }
}
