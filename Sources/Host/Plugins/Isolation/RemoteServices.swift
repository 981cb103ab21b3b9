import Foundation
import PluginAPI
import Synchronization

/// The daemon's side of the host services of an isolated instance: serves the plugin host's
/// service calls (WireMethod 100…199) by calling the SAME C tables inline plugins call
/// (`HostTables.shared`), with this instance's own `sb_host` (a `HostHandle` on its
/// `PluginHostContext`) and proxy callbacks (RemoteServiceProxies) that send results and events
/// back. So every rule — route paths and hand-over, UDP and WebSocket caps, publish checks,
/// operation ownership, the log prefix — is the same code in both modes.
///
/// Handlers run on the channel's reader thread, in the order the plugin sent them (a `complete`
/// stays behind the `publish` before it). They never wait for another frame of the channel; the
/// few that block (a UDP bind, a UDP send until the kernel took it) block on the network stack.
/// The plugin host's ids are mapped to the daemon services' ids here, per service.
final class RemoteServices: Sendable {
    let channel: PluginChannel
    let context: PluginHostContext
    let host: HostHandle

    /// A request, socket or route of the plugin host, by its id: the proxy key (the `user` of the
    /// C callback) and the daemon service's id once it is known.
    private struct Mapped {
        var key: UnsafeMutableRawPointer
        var daemonID: UInt64 = 0
    }

    private struct Maps: @unchecked Sendable {
        // @unchecked: the raw pointers are proxy keys (integers), never dereferenced.
        var http: [UInt64: Mapped] = [:]
        var udp: [UInt64: Mapped] = [:]
        var routes: [UInt64: Mapped] = [:]
        var webSockets: [UInt64: Mapped] = [:]

        subscript(kind: RemoteServiceProxies.Kind) -> [UInt64: Mapped] {
            get {
                switch kind {
                case .http: http
                case .udp: udp
                case .route: routes
                case .webSocket: webSockets
                }
            }
            set {
                switch kind {
                case .http: http = newValue
                case .udp: udp = newValue
                case .route: routes = newValue
                case .webSocket: webSockets = newValue
                }
            }
        }
    }

    private let maps = Mutex(Maps())
    /// A media put reads at most this much from the clip's memory file.
    static let maxClip = 1 << 30
    /// The URL buffers handed to the tables (a plugin's `url_size` may be anything).
    static let maxURL = 64 << 10

    init(channel: PluginChannel, context: PluginHostContext) {
        self.channel = channel
        self.context = context
        host = HostHandle(context: context)
    }

    deinit {
        RemoteServiceProxies.removeAll(owner: ObjectIdentifier(self))
    }

    /// The SB_HOST_EXT_* ids served to this instance: those the daemon's `get_extension` returns.
    var offeredServices: [String] {
        HostTables.offered.filter { HostTables.shared.lookup($0, for: host.pointer) != nil }
    }

    // MARK: dispatch

    /// Serves a host service call or note; false for a method that is not one (the caller's).
    func handle(_ message: PluginChannel.Message, isCall: Bool) -> Bool {
        guard let method = WireMethod(rawValue: message.method), (100..<200).contains(method.rawValue) else { return false }
        var fds = message.fds
        defer { fds.forEach { _ = Glibc.close($0) } }
        let reply: [UInt8]?
        do throws(WireReader.Truncated) {
            reply = try serve(method, message.payload, fds: &fds)
        } catch {
            channel.close("protocol error: \(method) \(error.description)")
            return true
        }
        if isCall { channel.reply(to: message, reply ?? ServiceStatusReply(status: SB_ERR_UNSUPPORTED).encode()) }
        return true
    }

    /// Serves one message; the reply's payload for a call (nil for a note).
    private func serve(_ method: WireMethod, _ payload: [UInt8], fds: inout [Int32]) throws(WireReader.Truncated) -> [UInt8]? {
        let h = UnsafePointer(host.pointer)
        let tables = HostTables.shared
        switch method {
        case .log:
            let note = try LogNote(decoding: payload)
            tables.log.pointee.log(h, note.level, note.text)
            return nil
        case .publishState:
            let r = try PublishStateRequest(decoding: payload)
            return ServiceStatusReply(status: tables.publish.pointee.speaker_state(h, r.speaker, r.json)).encode()
        case .publishAvailability:
            let r = try PublishAvailabilityRequest(decoding: payload)
            return ServiceStatusReply(status: tables.publish.pointee.speaker_availability(h, r.speaker, r.online)).encode()
        case .publishEvent:
            let r = try PublishEventRequest(decoding: payload)
            return ServiceStatusReply(status: tables.publish.pointee.event(h, r.name, r.json)).encode()
        case .complete:
            let note = try CompleteNote(decoding: payload)
            if let detail = note.detail {
                tables.operations.pointee.complete(h, note.operationID, note.status, detail)
            } else {
                tables.operations.pointee.complete(h, note.operationID, note.status, nil)
            }
            return nil
        case .mediaPut:
            return mediaPut(try MediaPutRequest(decoding: payload), fds: &fds).encode()
        case .hostServices:
            return HostServicesReply(ids: offeredServices).encode()
        case .httpRequest:
            return ServiceStatusReply(status: httpRequest(try HTTPRequestCall(decoding: payload))).encode()
        case .httpCancel:
            let id = try ServiceIDNote(decoding: payload).id
            if let daemonID = end(.http, id) { tables.http.pointee.cancel(h, daemonID) }
            return nil
        case .udpOpen:
            return udpOpen(try UDPOpenRequest(decoding: payload)).encode()
        case .udpSend:
            let r = try UDPSendRequest(decoding: payload)
            let status = r.data.withUnsafeBytes { data in
                tables.udp.pointee.send(h, daemonID(.udp, r.id), r.address, r.port, data.baseAddress, data.count)
            }
            return ServiceStatusReply(status: status).encode()
        case .udpClose:
            if let daemonID = end(.udp, try ServiceIDNote(decoding: payload).id) { tables.udp.pointee.close(h, daemonID) }
            return nil
        case .routeAdd:
            return routeAdd(try RouteAddRequest(decoding: payload)).encode()
        case .routeRemove:
            if let daemonID = end(.route, try ServiceIDNote(decoding: payload).id) { tables.routes.pointee.remove(h, daemonID) }
            return nil
        case .wsOpen:
            return ServiceStatusReply(status: webSocketOpen(try WebSocketOpenRequest(decoding: payload))).encode()
        case .wsSend:
            let r = try WebSocketSendRequest(decoding: payload)
            let status = r.text.withUnsafeBytes { text in
                tables.websocket.pointee.send_text(h, daemonID(.webSocket, r.id), text.baseAddress?.assumingMemoryBound(to: CChar.self), text.count)
            }
            return ServiceStatusReply(status: status).encode()
        case .wsClose:
            if let daemonID = end(.webSocket, try ServiceIDNote(decoding: payload).id) { tables.websocket.pointee.close(h, daemonID) }
            return nil
        default:
            return nil
        }
    }

    // MARK: id maps

    /// Reserves the proxy key of a new request, socket or route before the table can call it back.
    private func begin(_ kind: RemoteServiceProxies.Kind, _ childID: UInt64) -> UnsafeMutableRawPointer {
        let key = RemoteServiceProxies.add(.init(kind: kind, childID: childID, owner: ObjectIdentifier(self),
                                                 services: .init(self)))
        maps.withLock { $0[kind][childID] = Mapped(key: key) }
        return key
    }

    /// The table accepted it: its id, unless it already ended (an HTTP answer can come first).
    private func started(_ kind: RemoteServiceProxies.Kind, _ childID: UInt64, daemonID: UInt64) {
        maps.withLock { m in
            if m[kind][childID] != nil { m[kind][childID]!.daemonID = daemonID }
        }
    }

    /// The plugin host ended it (cancel, close, remove), or the table refused it: the daemon's id.
    private func end(_ kind: RemoteServiceProxies.Kind, _ childID: UInt64) -> UInt64? {
        guard let mapped = maps.withLock({ $0[kind].removeValue(forKey: childID) }) else { return nil }
        RemoteServiceProxies.remove(mapped.key)
        return mapped.daemonID
    }

    /// It ended on the daemon's side (an HTTP answer, SB_WS_CLOSED): called by the proxies.
    func forget(_ kind: RemoteServiceProxies.Kind, _ childID: UInt64) {
        maps.withLock { _ = $0[kind].removeValue(forKey: childID) }
    }

    /// The daemon's id for the plugin host's, or 0 (which no service hands out: "unknown").
    private func daemonID(_ kind: RemoteServiceProxies.Kind, _ childID: UInt64) -> UInt64 {
        maps.withLock { $0[kind][childID]?.daemonID ?? 0 }
    }

    // MARK: services with more to them than one table call

    private func mediaPut(_ r: MediaPutRequest, fds: inout [Int32]) -> ServiceStatusTextReply {
        guard HostTables.shared.lookup(SB_HOST_EXT_MEDIA, for: host.pointer) != nil else {
            return ServiceStatusTextReply(status: SB_ERR_UNSUPPORTED, text: "")
        }
        guard let fd = fds.first, r.size > 0, r.size <= UInt64(Self.maxClip) else {
            return ServiceStatusTextReply(status: SB_ERR_INVALID, text: "")
        }
        // Read with pread, not mapped: a plugin host that shrank the file meanwhile cannot make
        // the daemon fault (SIGBUS), it only gets a refusal.
        var bytes = [UInt8](repeating: 0, count: Int(r.size))
        var done = 0
        while done < bytes.count {
            let n = bytes.withUnsafeMutableBytes { pread(fd, $0.baseAddress! + done, $0.count - done, off_t(done)) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else {
                context.logger.warning("plugin \(context.pluginID)#\(context.generation): media put: the clip's memory file has \(done) of \(r.size) bytes")
                return ServiceStatusTextReply(status: SB_ERR_FAILED, text: "")
            }
            done += n
        }
        let capacity = Int(min(r.urlCapacity, UInt64(Self.maxURL)))
        var url = [CChar](repeating: 0, count: max(capacity, 1))
        let status = bytes.withUnsafeBytes { data in
            HostTables.shared.media.pointee.put(host.pointer, data.baseAddress, data.count, r.mime, r.ttlSeconds, &url, capacity)
        }
        return ServiceStatusTextReply(status: status, text: status == SB_OK ? CStrings.text(url) : "")
    }

    private func httpRequest(_ r: HTTPRequestCall) -> Int32 {
        let key = begin(.http, r.id)
        var daemonID: UInt64 = 0
        let status = CStrings.withHeaders(r.headers) { headers in
            r.body.withUnsafeBytes { body in
                var c = sb_http_request()
                c.struct_size = UInt32(MemoryLayout<sb_http_request>.size)
                return r.method.withCString { method in
                    r.url.withCString { url in
                        c.method = method
                        c.url = url
                        c.headers = headers.baseAddress.map { UnsafePointer($0) }
                        c.header_count = headers.count
                        c.body = body.baseAddress
                        c.body_size = body.count
                        c.timeout_ms = r.timeoutMs
                        c.max_response_size = Int(clamping: r.maxResponseSize)
                        c.flags = r.flags
                        return HostTables.shared.http.pointee.request(host.pointer, &c, RemoteServiceProxies.httpDone, key, &daemonID)
                    }
                }
            }
        }
        if status == SB_OK { started(.http, r.id, daemonID: daemonID) } else { _ = end(.http, r.id) }
        return status
    }

    private func udpOpen(_ r: UDPOpenRequest) -> ServiceStatusTextReply {
        let key = begin(.udp, r.id)
        var daemonID: UInt64 = 0
        var err = [CChar](repeating: 0, count: 512)
        let status = CStrings.withOptional(r.interface) { interface in
            CStrings.withOptional(r.group) { group in
                HostTables.shared.udp.pointee.open(host.pointer, interface, r.port, group, RemoteServiceProxies.udpReceive, key,
                                                   &daemonID, &err, err.count)
            }
        }
        if status == SB_OK { started(.udp, r.id, daemonID: daemonID) } else { _ = end(.udp, r.id) }
        return ServiceStatusTextReply(status: status, text: status == SB_OK ? "" : CStrings.text(err))
    }

    private func routeAdd(_ r: RouteAddRequest) -> ServiceStatusTextReply {
        guard HostTables.shared.lookup(SB_HOST_EXT_ROUTES, for: host.pointer) != nil else {
            return ServiceStatusTextReply(status: SB_ERR_UNSUPPORTED, text: "")
        }
        let key = begin(.route, r.id)
        var daemonID: UInt64 = 0
        let capacity = Int(min(r.urlCapacity, UInt64(Self.maxURL)))
        var url = [CChar](repeating: 0, count: max(capacity, 1))
        let status = HostTables.shared.routes.pointee.add(host.pointer, r.path, RemoteServiceProxies.route, key, &url, capacity, &daemonID)
        if status == SB_OK { started(.route, r.id, daemonID: daemonID) } else { _ = end(.route, r.id) }
        return ServiceStatusTextReply(status: status, text: status == SB_OK ? CStrings.text(url) : "")
    }

    private func webSocketOpen(_ r: WebSocketOpenRequest) -> Int32 {
        // The proxy key exists before `open`: the table may deliver SB_WS_CLOSED (on the
        // executor) before it returns; `started` then finds nothing left to record.
        let key = begin(.webSocket, r.id)
        var out: UInt64 = 0
        let status = CStrings.withHeaders(r.headers) { headers in
            r.url.withCString { url in
                CStrings.withOptional(r.subprotocol) { subprotocol in
                    var c = sb_ws_request()
                    c.struct_size = UInt32(MemoryLayout<sb_ws_request>.size)
                    c.url = url
                    c.headers = headers.baseAddress.map { UnsafePointer($0) }
                    c.header_count = headers.count
                    c.subprotocol = subprotocol
                    c.flags = r.flags
                    c.timeout_ms = r.timeoutMs
                    c.max_message_size = Int(clamping: r.maxMessageSize)
                    return HostTables.shared.websocket.pointee.open(host.pointer, &c, RemoteServiceProxies.webSocketEvent, key, &out)
                }
            }
        }
        if status == SB_OK { started(.webSocket, r.id, daemonID: out) } else { _ = end(.webSocket, r.id) }
        return status
    }
}

/// C views of strings for one call.
enum CStrings {
    /// The NUL-terminated text a C function wrote into `buffer`.
    static func text(_ buffer: [CChar]) -> String {
        String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// `text` as a C string, or NULL for nil.
    static func withOptional<R>(_ text: String?, _ body: (UnsafePointer<CChar>?) -> R) -> R {
        guard let text else { return body(nil) }
        return text.withCString { body($0) }
    }

    /// `headers` as `sb_http_header`s, alive for the call.
    static func withHeaders<R>(_ headers: [HeaderPair], _ body: (UnsafeMutableBufferPointer<sb_http_header>) -> R) -> R {
        let names = headers.map { strdup($0.name) }, values = headers.map { strdup($0.value) }
        defer { for p in names + values { free(p) } }
        var c = (0..<headers.count).map { sb_http_header(name: names[$0], value: values[$0]) }
        return c.withUnsafeMutableBufferPointer { body($0) }
    }
}
