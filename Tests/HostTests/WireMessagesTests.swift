import Logging
import PluginAPI
import Synchronization
import XCTest

@testable import SpeakerbridgeHost

/// The host services' messages of the plugin host protocol: every message survives a round trip,
/// a cut or padded message is refused; and both ends of the services, joined by a socketpair
/// (no process), serve a plugin's calls as the daemon does inline.
final class WireMessagesTests: XCTestCase {
    private func roundTrip<M: WireMessage & Equatable>(_ message: M, file: StaticString = #filePath, line: UInt = #line) {
        let bytes = message.encode()
        XCTAssertEqual(try M(decoding: bytes), message, file: file, line: line)
        if !bytes.isEmpty {
            XCTAssertThrowsError(try M(decoding: Array(bytes.dropLast())), "a cut \(M.self) is refused", file: file, line: line)
        }
        XCTAssertThrowsError(try M(decoding: bytes + [0]), "a padded \(M.self) is refused", file: file, line: line)
    }

    func testEveryServiceMessageRoundTrips() {
        let headers = [HeaderPair("content-type", "text/xml; charset=\"utf-8\""), HeaderPair("SOAPACTION", "")]
        roundTrip(ServiceStatusReply(status: SB_ERR_BUSY))
        roundTrip(ServiceStatusTextReply(status: SB_OK, text: "http://192.0.2.1:8099/plugin/x/cb"))
        roundTrip(ServiceIDNote(id: .max))
        roundTrip(LogNote(level: SB_LOG_ERROR, text: "häßlich ✓"))
        roundTrip(PublishStateRequest(speaker: "kitchen", json: "{\"volume\":30}"))
        roundTrip(PublishAvailabilityRequest(speaker: "kitchen", online: true))
        roundTrip(PublishEventRequest(name: "discovered", json: "{}"))
        roundTrip(CompleteNote(operationID: 7, status: SB_ERR_FAILED, detail: nil))
        roundTrip(CompleteNote(operationID: 8, status: SB_OK, detail: "{\"duration\":1.5}"))
        roundTrip(MediaPutRequest(size: 123_456, mime: "audio/wav", ttlSeconds: 600, urlCapacity: 512))
        roundTrip(MediaPutRequest(size: 1, mime: nil, ttlSeconds: 0, urlCapacity: 0))
        roundTrip(HostServicesReply(ids: HostTables.offered))
        roundTrip(HTTPRequestCall(id: 3, method: "POST", url: "http://127.0.0.1:1400/ctl", headers: headers, body: Array("<s/>".utf8),
                                  timeoutMs: 2500, maxResponseSize: 1 << 20, flags: SB_HTTP_TLS_NO_VERIFY))
        roundTrip(HTTPDoneNote(id: 3, status: SB_OK, httpStatus: 200, headers: headers, body: [0, 1, 2, 255], error: nil))
        roundTrip(HTTPDoneNote(id: 4, status: SB_ERR_TIMEOUT, httpStatus: 0, headers: [], body: [], error: "no answer within 2.5 s"))
        roundTrip(UDPOpenRequest(id: 1, interface: nil, port: 1900, group: "239.255.255.250"))
        roundTrip(UDPOpenRequest(id: 2, interface: "lo", port: 0, group: nil))
        roundTrip(UDPSendRequest(id: 1, address: "239.255.255.250", port: 1900, data: Array("M-SEARCH * HTTP/1.1\r\n".utf8)))
        roundTrip(UDPReceiveNote(id: 1, address: "192.0.2.7", port: 1900, data: [9, 9]))
        roundTrip(RouteAddRequest(id: 5, path: "/gena/rendering", urlCapacity: 256))
        roundTrip(RouteRequestCall(id: 5, method: "NOTIFY", path: "gena/rendering?x=1", headers: headers, body: Array("<e/>".utf8),
                                   remoteAddress: "192.0.2.7", deadline: 123_456_789))
        roundTrip(RouteRequestCall(id: 5, method: "GET", path: "a", headers: [], body: [], remoteAddress: nil, deadline: 0))
        roundTrip(WebSocketOpenRequest(id: 9, url: "wss://192.0.2.7:1443/websocket/api", headers: [HeaderPair("X-Sonos-Api-Key", "k")],
                                       subprotocol: "v1.api.smartspeaker.audio", flags: SB_HTTP_TLS_NO_VERIFY, timeoutMs: 0,
                                       maxMessageSize: 0))
        roundTrip(WebSocketOpenRequest(id: 10, url: "ws://127.0.0.1:1/", headers: [], subprotocol: nil, flags: 0, timeoutMs: 500,
                                       maxMessageSize: 16 << 20))
        roundTrip(WebSocketSendRequest(id: 9, text: Array("[{}]".utf8)))
        roundTrip(WebSocketEventNote(id: 9, event: SB_WS_CLOSED, data: Array("closed by the server (1000: bye)".utf8)))
    }

    func testAFieldLongerThanTheMessageIsRefused() {
        var w = WireWriter()
        w.u32(1_000_000) // a string claiming a megabyte in a 4-byte message
        XCTAssertThrowsError(try LogNote(decoding: [0, 0, 0, 0] + w.bytes))
    }

    // MARK: both ends over a socketpair

    /// The daemon's side (a host context with a media store and a recording publisher) and the
    /// plugin host's side of one instance, joined by a socketpair as a plugin host process is.
    private final class Pair: Sendable {
        let daemonChannel: PluginChannel
        let childChannel: PluginChannel
        let context: PluginHostContext
        let remote: RemoteServices
        let child: ChildHostServices
        final class Recorded<T: Sendable>: Sendable {
            private let items = Mutex<[T]>([])
            func append(_ item: T) { items.withLock { $0.append(item) } }
            var all: [T] { items.withLock { $0 } }
        }
        struct Clip: Sendable { let bytes: [UInt8]; let mime: String }
        let published = Recorded<OutboundMessage>()
        let stored = Recorded<Clip>()
        let operations = OperationTable()

        struct Publisher: PluginPublisher {
            let pair: @Sendable (OutboundMessage) -> Void
            func publish(_ message: OutboundMessage) { pair(message) }
        }

        struct Store: PluginMediaStore {
            let put: @Sendable ([UInt8], String) -> Void
            func put(_ bytes: [UInt8], mime: String, ttl: Double) -> String? {
                put(bytes, mime)
                return "http://127.0.0.1:8099/media/clip-1.wav"
            }
        }

        init(settings: String = "{}", media: Bool = true) {
            var fds: [Int32] = [-1, -1]
            precondition(socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0, &fds) == 0)
            daemonChannel = PluginChannel(fd: fds[0], label: "test.daemon")
            childChannel = PluginChannel(fd: fds[1], label: "test.child")
            let published = self.published, stored = self.stored
            context = PluginHostContext(pluginID: "org.test.wire", generation: 1, logger: Logger(label: "test"),
                                        topics: Topics(base: "sb"), publisher: Publisher { m in published.append(m) },
                                        executor: PluginExecutor(label: "test.daemon"), operations: operations,
                                        media: media ? Store { b, m in stored.append(Clip(bytes: b, mime: m)) } : nil)
            remote = RemoteServices(channel: daemonChannel, context: context)
            child = ChildHostServices(channel: childChannel, executor: PluginExecutor(label: "test.child"), pluginID: "org.test.wire",
                                      generation: 1, settingsJSON: settings)
            let remote = self.remote, child = self.child, daemonChannel = self.daemonChannel, childChannel = self.childChannel
            daemonChannel.start(onCall: { m in if !remote.handle(m, isCall: true) { daemonChannel.reply(to: m, []) } },
                                onNote: { m in _ = remote.handle(m, isCall: false) }, onClose: { _ in })
            childChannel.start(onCall: { m in if !child.handle(m, isCall: true) { childChannel.reply(to: m, []) } },
                               onNote: { m in _ = child.handle(m, isCall: false) }, onClose: { _ in })
        }

        func table<T>(_ id: String, as: T.Type) -> UnsafePointer<T>? {
            child.host.pointee.get_extension(child.host, id).map { $0.assumingMemoryBound(to: T.self) }
        }

        func close() {
            daemonChannel.close("test over")
            childChannel.close("test over")
        }
    }

    func testTheChildOffersWhatTheDaemonServes() throws {
        let with = Pair(media: true), without = Pair(media: false)
        defer { with.close(); without.close() }
        XCTAssertNotNil(with.table(SB_HOST_EXT_MEDIA, as: sb_host_media.self))
        XCTAssertNil(without.table(SB_HOST_EXT_MEDIA, as: sb_host_media.self))
        // No HTTP server in either: no routes, as inline.
        XCTAssertNil(with.table(SB_HOST_EXT_ROUTES, as: sb_host_routes.self))
        for id in [SB_HOST_EXT_LOG, SB_HOST_EXT_TIMERS, SB_HOST_EXT_PUBLISH, SB_HOST_EXT_OPERATIONS, SB_HOST_EXT_HTTP, SB_HOST_EXT_UDP,
                   SB_HOST_EXT_WEBSOCKET, SB_HOST_EXT_SETTINGS] {
            XCTAssertNotNil(without.child.host.pointee.get_extension(without.child.host, id), id)
        }
        XCTAssertNil(with.child.host.pointee.get_extension(with.child.host, "speakerbridge.host.nothing/1"))
    }

    func testPublishCrossesWithTheDaemonsChecks() throws {
        let pair = Pair()
        defer { pair.close() }
        let publish = try XCTUnwrap(pair.table(SB_HOST_EXT_PUBLISH, as: sb_host_publish.self))
        XCTAssertEqual(publish.pointee.speaker_state(pair.child.host, "kitchen", "{\"volume\":30}"), SB_OK)
        XCTAssertEqual(publish.pointee.speaker_state(pair.child.host, "kitchen", "[1]"), SB_ERR_INVALID, "not an object: refused by the daemon")
        XCTAssertEqual(publish.pointee.speaker_availability(pair.child.host, "kitchen", false), SB_OK)
        XCTAssertEqual(publish.pointee.event(pair.child.host, "found", "{\"n\":1}"), SB_OK)
        let topics = pair.published.all.map(\.topic)
        XCTAssertEqual(topics, ["sb/kitchen/state", "sb/kitchen/availability", "sb/bridge/event/plugin/org.test.wire/found"])
    }

    func testAClipCrossesInAMemoryFileAndTheURLComesBack() throws {
        let pair = Pair()
        defer { pair.close() }
        let media = try XCTUnwrap(pair.table(SB_HOST_EXT_MEDIA, as: sb_host_media.self))
        let clip = (0..<300_000).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        var url = [CChar](repeating: 0, count: 128)
        let status = clip.withUnsafeBytes { media.pointee.put(pair.child.host, $0.baseAddress, $0.count, "audio/wav", 60, &url, url.count) }
        XCTAssertEqual(status, SB_OK)
        XCTAssertEqual(CStrings.text(url), "http://127.0.0.1:8099/media/clip-1.wav")
        let stored = pair.stored.all
        XCTAssertEqual(stored.count, 1)
        XCTAssertEqual(stored.first?.mime, "audio/wav")
        XCTAssertTrue(stored.first?.bytes == clip, "the daemon stored the clip's exact bytes")
        var small = [CChar](repeating: 0, count: 8)
        XCTAssertEqual(clip.withUnsafeBytes { media.pointee.put(pair.child.host, $0.baseAddress, $0.count, "audio/wav", 60, &small, small.count) },
                       SB_ERR_FAILED, "a URL buffer too small: the daemon's answer")
    }

    func testSettingsAreServedInTheChildWithTheInlineTexts() throws {
        let pair = Pair(settings: "{\"port\":\"1400\",\"rooms\":[\"a\",\"b\"],\"ratio\":0.5}")
        defer { pair.close() }
        let settings = try XCTUnwrap(pair.table(SB_HOST_EXT_SETTINGS, as: sb_host_settings.self))
        var port: Int64 = 0
        var err = [CChar](repeating: 0, count: 256)
        XCTAssertEqual(settings.pointee.get_integer(pair.child.host, "port", 1400, &port, &err, err.count), SB_ERR_INVALID)
        XCTAssertEqual(port, 1400)
        XCTAssertEqual(CStrings.text(err), "setting \"port\": expected an integer, got a string")
        var items: UnsafePointer<UnsafePointer<CChar>?>? = nil
        var count = 0
        XCTAssertEqual(settings.pointee.get_string_list(pair.child.host, "rooms", nil, 0, &items, &count, nil, 0), SB_OK)
        XCTAssertEqual(count, 2)
        XCTAssertEqual(items.map { String(cString: $0[1]!) }, "b")
        var ratio = 0.0
        XCTAssertEqual(settings.pointee.get_number(pair.child.host, "ratio", 1, &ratio, nil, 0), SB_OK)
        XCTAssertEqual(ratio, 0.5)
    }

    func testACompletionFromTheChildEndsTheDaemonsOperation() async throws {
        let pair = Pair()
        defer { pair.close() }
        let ops = Unchecked(try XCTUnwrap(pair.table(SB_HOST_EXT_OPERATIONS, as: sb_host_operations.self)))
        let host = Unchecked(pair.child.host)
        let outcome = await pair.operations.run(owner: ObjectIdentifier(pair.context), timeout: 5) { id in
            ops.value.pointee.complete(host.value, id, SB_OK, "{\"played\":true}")
        }
        XCTAssertEqual(outcome, OperationOutcome(status: SB_OK, detail: "{\"played\":true}"))
    }

    /// A datagram on loopback reaches the plugin's `receive` on the child's executor; none once
    /// `close` returned.
    func testUDPOnLoopbackDeliversDatagramsToTheChild() throws {
        let pair = Pair()
        defer { pair.close() }
        let udp = try XCTUnwrap(pair.table(SB_HOST_EXT_UDP, as: sb_host_udp.self))
        final class Inbox: Sendable {
            let got = Mutex<[String]>([])
            let arrived = DispatchSemaphore(value: 0)
        }
        let inbox = Inbox()
        let user = Unmanaged.passRetained(inbox).toOpaque()
        defer { Unmanaged<Inbox>.fromOpaque(user).release() }
        var a: UInt64 = 0, b: UInt64 = 0
        var err = [CChar](repeating: 0, count: 256)
        let receive: sb_udp_receive_fn = { user, from, port, data, size in
            let inbox = Unmanaged<Inbox>.fromOpaque(user!).takeUnretainedValue()
            let text = String(decoding: UnsafeRawBufferPointer(start: data, count: size), as: UTF8.self)
            inbox.got.withLock { $0.append("\(String(cString: from!)) \(text)") }
            inbox.arrived.signal()
        }
        let port = try Self.freeLoopbackUDPPort()
        XCTAssertEqual(udp.pointee.open(pair.child.host, "127.0.0.1", port, nil, receive, user, &a, &err, err.count), SB_OK, CStrings.text(err))
        XCTAssertEqual(udp.pointee.open(pair.child.host, "127.0.0.1", 0, nil, receive, user, &b, &err, err.count), SB_OK, CStrings.text(err))
        XCTAssertEqual(udp.pointee.open(pair.child.host, "no-such-if0", 0, nil, receive, user, &b, &err, err.count), SB_ERR_INVALID)
        XCTAssertEqual(CStrings.text(err), "no interface named no-such-if0", "the daemon's reason reaches `err`")
        XCTAssertEqual(udp.pointee.send(pair.child.host, 999, "127.0.0.1", 9, "x", 1), SB_ERR_NOT_FOUND)
        XCTAssertEqual(udp.pointee.send(pair.child.host, a, "not an address", 9, "x", 1), SB_ERR_INVALID)
        XCTAssertEqual(udp.pointee.send(pair.child.host, b, "127.0.0.1", port, "hello", 5), SB_OK)
        XCTAssertEqual(inbox.arrived.wait(timeout: .now() + 5), .success)
        XCTAssertEqual(inbox.got.withLock { $0 }, ["127.0.0.1 hello"])
        udp.pointee.close(pair.child.host, a)
        XCTAssertEqual(udp.pointee.send(pair.child.host, a, "127.0.0.1", 9, "x", 1), SB_ERR_NOT_FOUND, "closed")
        udp.pointee.close(pair.child.host, b)
    }

    /// A WebSocket text message waits in the daemon until the plugin's function returned in the
    /// plugin host: the daemon's executor stays busy meanwhile, which is what makes the WebSocket
    /// service's pause at 64 waiting messages hold back a fast server in process mode too.
    func testAWebSocketTextMessageWaitsInTheDaemonUntilThePluginTookIt() throws {
        let pair = Pair()
        defer { pair.close() }
        final class Inbox: Sendable {
            let texts = Mutex<[String]>([])
        }
        let inbox = Inbox()
        let user = Unmanaged.passRetained(inbox).toOpaque()
        defer { Unmanaged<Inbox>.fromOpaque(user).release() }
        let events: sb_ws_event_fn = { user, _, event, data, size in
            let inbox = Unmanaged<Inbox>.fromOpaque(user!).takeUnretainedValue()
            guard event == SB_WS_TEXT, let data else { return }
            XCTAssertEqual(data[size], 0, "NUL-terminated")
            inbox.texts.withLock { $0.append(String(decoding: UnsafeRawBufferPointer(start: data, count: size), as: UTF8.self)) }
        }
        let id = pair.child.websockets.add(.init(fn: events, user: user))
        let key = RemoteServiceProxies.add(.init(kind: .webSocket, childID: id, owner: ObjectIdentifier(pair.remote),
                                                 services: .init(pair.remote)))
        // The plugin is busy.
        let release = DispatchSemaphore(value: 0)
        pair.child.executor.async { release.wait() }
        let delivered = DispatchSemaphore(value: 0)
        let proxyKey = Unchecked(key)
        Thread.detachNewThread {
            "hello".withCString { RemoteServiceProxies.webSocketEvent(proxyKey.value, 1, SB_WS_TEXT, $0, 5) }
            delivered.signal()
        }
        XCTAssertEqual(delivered.wait(timeout: .now() + 0.5), .timedOut, "the daemon side waits while the plugin is busy")
        release.signal()
        XCTAssertEqual(delivered.wait(timeout: .now() + 5), .success)
        XCTAssertEqual(inbox.texts.withLock { $0 }, ["hello"], "delivered before the daemon side went on")
        // Closed by the plugin: nothing more reaches it, and the daemon side does not wait for it.
        pair.child.websockets.remove(id)
        "late".withCString { RemoteServiceProxies.webSocketEvent(key, 1, SB_WS_TEXT, $0, 4) }
        XCTAssertEqual(inbox.texts.withLock { $0 }, ["hello"])
        RemoteServiceProxies.remove(key)
    }

    /// A UDP port on 127.0.0.1 nobody uses now (the kernel's pick, released again).
    private static func freeLoopbackUDPPort() throws -> UInt16 {
        let fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let ok = withUnsafeMutablePointer(to: &address) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
        }
        guard ok else { throw XCTSkip("no UDP socket on loopback") }
        return UInt16(bigEndian: address.sin_port)
    }
}
