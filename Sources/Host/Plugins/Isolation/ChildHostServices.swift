import Foundation
import PluginAPI
import Synchronization

/// The host services of an isolated instance, inside the plugin host process: the `sb_host` the
/// plugin gets, whose tables (ChildHost…Table.swift) forward each service call over the socket to
/// the daemon's `RemoteServices`, and the events coming back (HTTP answers, datagrams, WebSocket
/// events, callback requests), handed to the plugin on its executor.
///
/// Timers and settings are served here, without a round trip: timers because "no callback once
/// `cancel` returned" cannot be kept across a socket, settings because they never change and came
/// with `create`. Both use the same code as inline (PluginTimers, SettingsGetters).
final class ChildHostServices: Sendable {
    /// The plugin's HTTP `done` and its `user`, handed back on the executor only.
    struct HTTPDone: @unchecked Sendable {
        // @unchecked: plugin-owned pointers we never dereference; they are only passed back to
        // the plugin's function on the plugin's serial executor.
        let fn: sb_http_done_fn
        let user: UnsafeMutableRawPointer?
    }

    /// A UDP socket's `receive`, and the datagrams waiting for the executor (the header's bound of
    /// 256 holds here, where the plugin's executor is).
    final class UDPSocket: Sendable {
        let receive: PluginUDP.Receive
        let pending = Atomic<Int>(0)
        let dropped = Atomic<Int>(0)
        init(_ receive: PluginUDP.Receive) { self.receive = receive }
    }

    let channel: PluginChannel
    let executor: PluginExecutor
    let pluginID: String
    let generation: Int
    let timers: PluginTimers
    let settingsReader: PluginSettingsReader
    let http: ChildCallbacks<HTTPDone>
    let udp: ChildCallbacks<UDPSocket>
    let routes: ChildCallbacks<PluginRoutes.Callback>
    let websockets: ChildCallbacks<PluginWebSocket.Events>
    /// The ids the daemon serves (asked once, on the first `get_extension` that depends on it).
    private let daemonOffers = Mutex<Set<String>?>(nil)
    // Unchecked: filled once at the end of init, then only read (by the plugin); never freed, as
    // the plugin may keep the pointer until the process exits.
    private let hostStruct: Unchecked<UnsafeMutablePointer<sb_host>>

    init(channel: PluginChannel, executor: PluginExecutor, pluginID: String, generation: Int, settingsJSON: String) {
        self.channel = channel
        self.executor = executor
        self.pluginID = pluginID
        self.generation = generation
        timers = PluginTimers(executor: executor)
        // Unique across generations (ChildCallbacks says why).
        let first = UInt64(truncatingIfNeeded: generation) << 32 | 1
        http = ChildCallbacks(first: first)
        udp = ChildCallbacks(first: first)
        routes = ChildCallbacks(first: first)
        websockets = ChildCallbacks(first: first)
        settingsReader = PluginSettingsReader(settings: PluginSettings(json: settingsJSON), strings: PluginSettingsStrings()) { [channel] problem in
            // The daemon's log adds "plugin <id>#<generation>: ", as it does inline.
            channel.notify(WireMethod.log.rawValue, LogNote(level: SB_LOG_WARNING, text: problem).encode())
        }
        hostStruct = Unchecked(.allocate(capacity: 1))
        hostStruct.value.initialize(to: sb_host(
            struct_size: UInt32(MemoryLayout<sb_host>.size), abi_major: UInt16(PluginABI.major),
            abi_minor: UInt16(PluginABI.minor), name: strdup("speakerbridge"), version: strdup(SpeakerbridgeVersion.current),
            // Retained for the life of the process: the plugin may hold the host until it exits.
            host_data: Unmanaged.passRetained(self).toOpaque(),
            get_extension: { host, id in
                guard let id, let services = ChildHostServices.from(host) else { return nil }
                return ChildHostTables.shared.lookup(String(cString: id), offered: services.offers)
            }))
    }

    /// The `sb_host` for `create`.
    var host: UnsafePointer<sb_host> { UnsafePointer(hostStruct.value) }

    static func from(_ host: UnsafePointer<sb_host>?) -> ChildHostServices? {
        guard let data = host?.pointee.host_data else { return nil }
        return Unmanaged<ChildHostServices>.fromOpaque(data).takeUnretainedValue()
    }

    /// Whether the daemon serves `id` for this instance. Everything but the media store and
    /// callback routes always is; those two depend on the daemon's HTTP server, so it is asked.
    func offers(_ id: String) -> Bool {
        guard id == SB_HOST_EXT_MEDIA || id == SB_HOST_EXT_ROUTES else { return HostTables.offered.contains(id) }
        if let known = daemonOffers.withLock({ $0 }) { return known.contains(id) }
        let ids = call(.hostServices, []).flatMap { try? HostServicesReply(decoding: $0).ids } ?? []
        daemonOffers.withLock { $0 = Set(ids) }
        return ids.contains(id)
    }

    // MARK: the plugin host's own side

    /// The plugin host's own messages, into the daemon's log (as "plugin <id>#<generation>: …").
    func log(level: Int32, _ text: String) {
        channel.notify(WireMethod.log.rawValue, LogNote(level: level, text: text).encode())
    }

    /// Before `destroy`: no timer fires any more, and nothing the plugin started (HTTP, UDP,
    /// WebSocket, routes) reaches it any more; the daemon closes its side of them with the instance.
    func cancelAll() {
        timers.cancelAll()
        http.removeAll()
        udp.removeAll()
        routes.removeAll()
        websockets.removeAll()
    }

    // MARK: talking to the daemon

    /// Calls the daemon and waits (the plugin's calling thread blocks, as inline it would for the
    /// service's own work); nil when the connection is gone.
    func call(_ method: WireMethod, _ payload: [UInt8], fds: [Int32] = []) -> [UInt8]? {
        switch channel.callBlocking(method.rawValue, payload, fds: fds, timeout: nil) {
        case .success(let reply):
            reply.fds.forEach { _ = Glibc.close($0) }
            return reply.payload
        case .failure:
            return nil
        }
    }

    /// A call answered by a status alone; SB_ERR_FAILED when the daemon is gone.
    func status(_ method: WireMethod, _ payload: [UInt8]) -> Int32 {
        call(method, payload).flatMap { try? ServiceStatusReply(decoding: $0).status } ?? SB_ERR_FAILED
    }

    func notify(_ method: WireMethod, _ payload: [UInt8]) {
        channel.notify(method.rawValue, payload)
    }

    // MARK: events from the daemon (200…)

    /// Handles a service result or event; false for a method that is not one (the caller's).
    func handle(_ message: PluginChannel.Message, isCall: Bool) -> Bool {
        guard let method = WireMethod(rawValue: message.method) else { return false }
        do throws(WireReader.Truncated) {
            switch method {
            case .httpDone: httpDone(try HTTPDoneNote(decoding: message.payload))
            case .udpReceive: udpReceive(try UDPReceiveNote(decoding: message.payload))
            case .wsEvent: webSocketEvent(try WebSocketEventNote(decoding: message.payload), call: isCall ? message : nil)
            case .routeRequest: routeRequest(try RouteRequestCall(decoding: message.payload), call: message)
            default: return false
            }
        } catch {
            channel.close("protocol error: \(method) \(error.description)")
        }
        message.fds.forEach { _ = Glibc.close($0) }
        return true
    }

    private func httpDone(_ note: HTTPDoneNote) {
        executor.async { [http] in
            // Removed here, on the executor: a `cancel` that returned before this ran wins.
            guard let done = http.remove(note.id) else { return }
            let response = PluginHTTP.Response(status: note.status, httpStatus: note.httpStatus,
                                               headers: note.headers.map { ($0.name, $0.value) }, body: note.body, error: note.error)
            HostTables.deliver(response, to: done.fn, user: done.user)
        }
    }

    private func udpReceive(_ note: UDPReceiveNote) {
        guard let socket = udp.get(note.id) else { return }
        guard socket.pending.wrappingAdd(1, ordering: .relaxed).oldValue < PluginUDP.maxPending else {
            socket.pending.wrappingSubtract(1, ordering: .relaxed)
            let dropped = socket.dropped.wrappingAdd(1, ordering: .relaxed).newValue
            if dropped == 1 || dropped % 1000 == 0 {
                // Not from this (the reader) thread: a send that waits for a full socket here
                // could wait for a daemon that itself waits for this reader.
                DispatchQueue.global().async { [self] in
                    log(level: SB_LOG_WARNING, "UDP socket \(note.id): \(dropped) datagrams dropped so far: the plugin does not keep up (\(PluginUDP.maxPending) waiting)")
                }
            }
            return
        }
        executor.async { [udp] in
            socket.pending.wrappingSubtract(1, ordering: .relaxed)
            // Closed (or destroyed) meanwhile: the plugin must not hear from it any more.
            guard udp.get(note.id) === socket else { return }
            note.address.withCString { from in
                note.data.withUnsafeBytes { data in socket.receive.fn(socket.receive.user, from, note.port, data.baseAddress, data.count) }
            }
        }
    }

    /// `call`: a text message the daemon waits for (its backpressure): answered once delivered.
    private func webSocketEvent(_ note: WebSocketEventNote, call: PluginChannel.Message?) {
        executor.async { [websockets, channel] in
            defer { if let call { channel.reply(to: call, []) } }
            // Looked up on the executor: once `close` returned, no event starts.
            guard let events = note.event == SB_WS_CLOSED ? websockets.remove(note.id) : websockets.get(note.id) else { return }
            // `data` is NUL-terminated for the plugin; the NUL is not counted.
            (note.data + [0]).withUnsafeBufferPointer { bytes in
                bytes.withMemoryRebound(to: CChar.self) { text in
                    events.fn(events.user, note.id, note.event, text.baseAddress, note.data.count)
                }
            }
        }
    }

    private func routeRequest(_ request: RouteRequestCall, call: PluginChannel.Message) {
        executor.async { [routes, channel] in
            let status: Int32
            if RouteRequestCall.now() > request.deadline {
                // The daemon answered 503 already: as inline, a late request is not handed over.
                status = 503
            } else if let callback = routes.get(request.id) {
                status = PluginRoutes.invoke(callback, PluginRoutes.Incoming(
                    method: request.method, path: request.path, headers: request.headers.map { ($0.name, $0.value) },
                    body: request.body, remoteAddress: request.remoteAddress))
            } else {
                // Removed meanwhile: the daemon no longer serves it either.
                status = 404
            }
            channel.reply(to: call, ServiceStatusReply(status: status).encode())
        }
    }
}
