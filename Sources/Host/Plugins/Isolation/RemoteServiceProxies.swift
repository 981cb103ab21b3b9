import Foundation
import PluginAPI
import Synchronization

/// The callbacks the daemon's C tables call for an isolated instance (an HTTP answer, a datagram,
/// a WebSocket event, a callback request): C functions that send the event to the plugin host.
///
/// Their `user` is not a pointer to an object but a key into this table (never 0), because the
/// daemon's services may still call a callback after the request or socket ended (an HTTP answer
/// already queued when `cancel` came, a datagram behind `close`): a key that is gone is simply
/// ignored, where a released box would be a dangling pointer. Entries point weakly to their
/// `RemoteServices`, which removes its own when it goes.
enum RemoteServiceProxies {
    enum Kind: Sendable { case http, udp, route, webSocket }

    struct Entry: Sendable {
        let kind: Kind
        /// The plugin host's id of the request, socket or route.
        let childID: UInt64
        let owner: ObjectIdentifier
        let services: WeakRemoteServices
    }

    final class WeakRemoteServices: Sendable {
        weak let value: RemoteServices?
        init(_ value: RemoteServices) { self.value = value }
    }

    private static let entries = Mutex<[UInt: Entry]>([:])
    private static let nextKey = Atomic<UInt>(1)

    /// A new key for `entry`, as the `user` pointer of a C callback.
    static func add(_ entry: Entry) -> UnsafeMutableRawPointer {
        let key = nextKey.wrappingAdd(1, ordering: .relaxed).oldValue
        entries.withLock { $0[key] = entry }
        return UnsafeMutableRawPointer(bitPattern: key)!
    }

    static func entry(_ user: UnsafeMutableRawPointer?) -> Entry? {
        guard let user else { return nil }
        return entries.withLock { $0[UInt(bitPattern: user)] }
    }

    @discardableResult
    static func remove(_ user: UnsafeMutableRawPointer?) -> Entry? {
        guard let user else { return nil }
        return entries.withLock { $0.removeValue(forKey: UInt(bitPattern: user)) }
    }

    static func removeAll(owner: ObjectIdentifier) {
        entries.withLock { e in
            for (key, entry) in e where entry.owner == owner { e.removeValue(forKey: key) }
        }
    }

    // MARK: the C callbacks (each runs on the daemon-side executor of the instance)

    /// SB_HOST_EXT_HTTP's `done`: the response, as `httpDone`. Once per request.
    static let httpDone: sb_http_done_fn = { user, response in
        guard let entry = RemoteServiceProxies.remove(user), let services = entry.services.value, let response else { return }
        services.forget(.http, entry.childID)
        let r = response.pointee
        var headers: [HeaderPair] = []
        if let h = r.headers {
            for i in 0..<r.header_count where h[i].name != nil && h[i].value != nil {
                headers.append(HeaderPair(String(cString: h[i].name), String(cString: h[i].value)))
            }
        }
        var note = HTTPDoneNote(id: entry.childID, status: r.status, httpStatus: r.http_status, headers: headers,
                                body: r.body.map { Array(UnsafeRawBufferPointer(start: $0, count: r.body_size)) } ?? [],
                                error: r.error.map { String(cString: $0) })
        if note.body.count > ChildHostTables.maxRequestBody {
            // A plugin may allow a response bigger than a frame of the protocol carries.
            note = HTTPDoneNote(id: entry.childID, status: SB_ERR_FAILED, httpStatus: 0, headers: [], body: [],
                                error: "the response of \(note.body.count) bytes is too big to hand to a plugin in process isolation")
        }
        services.channel.notify(WireMethod.httpDone.rawValue, note.encode())
    }

    /// SB_HOST_EXT_UDP's `receive`: a datagram, as `udpReceive`.
    static let udpReceive: sb_udp_receive_fn = { user, from, port, data, size in
        guard let entry = RemoteServiceProxies.entry(user), let services = entry.services.value else { return }
        let note = UDPReceiveNote(id: entry.childID, address: from.map { String(cString: $0) } ?? "", port: port,
                                  data: data.map { Array(UnsafeRawBufferPointer(start: $0, count: size)) } ?? [])
        services.channel.notify(WireMethod.udpReceive.rawValue, note.encode())
    }

    /// SB_HOST_EXT_WEBSOCKET's `event`: as `wsEvent`; SB_WS_CLOSED ends the socket here too.
    ///
    /// A text message is a call, answered once the plugin's function returned in the plugin host:
    /// this executor stays busy meanwhile, so messages queue HERE, where the WebSocket service
    /// counts them and stops reading the socket at 64 (the header's backpressure), instead of
    /// piling up unbounded in the plugin host behind a busy plugin.
    static let webSocketEvent: sb_ws_event_fn = { user, _, event, data, size in
        let found = event == SB_WS_CLOSED ? RemoteServiceProxies.remove(user) : RemoteServiceProxies.entry(user)
        guard let entry = found, let services = entry.services.value else { return }
        if event == SB_WS_CLOSED { services.forget(.webSocket, entry.childID) }
        let bytes = data.map { UnsafeRawBufferPointer(start: UnsafeRawPointer($0), count: size) }.map { Array($0) } ?? []
        let note = WebSocketEventNote(id: entry.childID, event: event, data: bytes).encode()
        if event == SB_WS_TEXT {
            // A plugin host that stops answering is killed and its channel closed, which ends the
            // wait; the timeout is only a backstop.
            if case .success(let reply) = services.channel.callBlocking(WireMethod.wsEvent.rawValue, note, timeout: textDeliveryTimeout) {
                reply.fds.forEach { _ = Glibc.close($0) }
            }
        } else {
            services.channel.notify(WireMethod.wsEvent.rawValue, note)
        }
    }

    static let textDeliveryTimeout = 30.0

    /// SB_HOST_EXT_ROUTES' function: asks the plugin host and waits for the plugin's status (at
    /// most the routes' answer time, after which the server has answered 503 anyway); 503 when the
    /// plugin host is gone or did not answer.
    static let route: sb_route_fn = { user, request in
        guard let entry = RemoteServiceProxies.entry(user), let services = entry.services.value, let request else { return 503 }
        let r = request.pointee
        var headers: [HeaderPair] = []
        if let h = r.headers {
            for i in 0..<r.header_count where h[i].name != nil && h[i].value != nil {
                headers.append(HeaderPair(String(cString: h[i].name), String(cString: h[i].value)))
            }
        }
        let call = RouteRequestCall(id: entry.childID, method: r.method.map { String(cString: $0) } ?? "",
                                    path: r.path.map { String(cString: $0) } ?? "", headers: headers,
                                    body: r.body.map { Array(UnsafeRawBufferPointer(start: $0, count: r.body_size)) } ?? [],
                                    remoteAddress: r.remote_address.map { String(cString: $0) },
                                    deadline: RouteRequestCall.now() + UInt64(PluginRoutes.answerTimeout * 1e9))
        switch services.channel.callBlocking(WireMethod.routeRequest.rawValue, call.encode(), timeout: PluginRoutes.answerTimeout) {
        case .success(let reply):
            reply.fds.forEach { _ = Glibc.close($0) }
            return (try? ServiceStatusReply(decoding: reply.payload).status) ?? 500
        case .failure:
            return 503
        }
    }
}
