import Foundation
import Logging
import PluginAPI

/// The C side of the host: the `sb_host` handed to each instance and the service tables behind
/// `get_extension`. The tables are shared by all plugins (the `host` argument says who is calling);
/// each instance gets its own `sb_host` whose `host_data` is its `PluginHostContext`.
final class HostTables: @unchecked Sendable {
    // @unchecked: the tables are allocated and filled once in init, never written again, and only
    // read (by C code) afterwards.
    static let shared = HostTables()

    let log: UnsafeMutablePointer<sb_host_log>
    let timers: UnsafeMutablePointer<sb_host_timers>
    let publish: UnsafeMutablePointer<sb_host_publish>
    let operations: UnsafeMutablePointer<sb_host_operations>
    let media: UnsafeMutablePointer<sb_host_media>
    let http: UnsafeMutablePointer<sb_host_http>
    let udp: UnsafeMutablePointer<sb_host_udp>
    let routes: UnsafeMutablePointer<sb_host_routes>
    let websocket: UnsafeMutablePointer<sb_host_websocket>
    let settings: UnsafeMutablePointer<sb_host_settings>

    private init() {
        log = .allocate(capacity: 1)
        log.initialize(to: sb_host_log(struct_size: UInt32(MemoryLayout<sb_host_log>.size), log: { host, level, message in
            guard let ctx = HostTables.context(host), let message else { return }
            let text = "plugin \(ctx.pluginID)#\(ctx.generation): \(String(cString: message))"
            switch level {
            case SB_LOG_ERROR: ctx.logger.error("\(text)")
            case SB_LOG_WARNING: ctx.logger.warning("\(text)")
            case SB_LOG_INFO: ctx.logger.info("\(text)")
            default: ctx.logger.debug("\(text)")
            }
        }))
        timers = .allocate(capacity: 1)
        timers.initialize(to: sb_host_timers(
            struct_size: UInt32(MemoryLayout<sb_host_timers>.size),
            start: { host, delay, period, fn, user, outID in
                guard let ctx = HostTables.context(host), let fn else { return SB_ERR_INVALID }
                let id = ctx.startTimer(delayMs: delay, periodMs: period, callback: .init(fn: fn, user: user))
                outID?.pointee = id
                return SB_OK
            },
            cancel: { host, id in HostTables.context(host)?.cancelTimer(id) }))
        publish = .allocate(capacity: 1)
        publish.initialize(to: sb_host_publish(
            struct_size: UInt32(MemoryLayout<sb_host_publish>.size),
            speaker_state: { host, speaker, json in
                guard let ctx = HostTables.context(host), let speaker, let json else { return SB_ERR_INVALID }
                return ctx.publishState(speaker: String(cString: speaker), json: String(cString: json))
            },
            speaker_availability: { host, speaker, online in
                guard let ctx = HostTables.context(host), let speaker else { return SB_ERR_INVALID }
                return ctx.publishAvailability(speaker: String(cString: speaker), online: online)
            },
            event: { host, name, json in
                guard let ctx = HostTables.context(host), let name, let json else { return SB_ERR_INVALID }
                return ctx.publishEvent(name: String(cString: name), json: String(cString: json))
            }))
        operations = .allocate(capacity: 1)
        operations.initialize(to: sb_host_operations(
            struct_size: UInt32(MemoryLayout<sb_host_operations>.size),
            complete: { host, id, status, detail in
                guard let ctx = HostTables.context(host) else { return }
                ctx.operations.complete(id, status: status, detail: detail.map { String(cString: $0) }, by: ObjectIdentifier(ctx))
            }))
        http = .allocate(capacity: 1)
        http.initialize(to: sb_host_http(
            struct_size: UInt32(MemoryLayout<sb_host_http>.size),
            request: { host, request, done, user, outID in
                // A plugin built against 1.0 has a shorter struct (up to `max_response_size`): read
                // the fields added since only when its `struct_size` covers them.
                // (Never `request.pointee`: that would read past the end of a 1.0 struct.)
                guard let ctx = HostTables.context(host), let request, let done else { return SB_ERR_INVALID }
                let size = Int(UnsafeRawPointer(request).load(as: UInt32.self))
                guard size >= HostTables.httpRequest10Size else { return SB_ERR_INVALID }
                var r = sb_http_request()
                // Copy only what the plugin's struct has; the rest stays zero (no flags).
                withUnsafeMutableBytes(of: &r) { dst in
                    dst.baseAddress!.copyMemory(from: UnsafeRawPointer(request), byteCount: min(size, dst.count))
                }
                guard let method = r.method, let url = r.url else { return SB_ERR_INVALID }
                let flags = size >= HostTables.httpFlagsEnd ? r.flags : 0
                var headers: [(String, String)] = []
                if let h = r.headers {
                    for i in 0..<r.header_count where h[i].name != nil && h[i].value != nil {
                        headers.append((String(cString: h[i].name), String(cString: h[i].value)))
                    }
                }
                let body = r.body.map { Array(UnsafeRawBufferPointer(start: $0, count: r.body_size)) } ?? []
                let copied = PluginHTTP.Request(
                    method: String(cString: method), url: String(cString: url), headers: headers, body: body,
                    timeout: r.timeout_ms == 0 ? PluginHTTP.defaultTimeout : Double(r.timeout_ms) / 1000,
                    maxResponseSize: r.max_response_size == 0 ? PluginHTTP.defaultMaxResponse : Int(r.max_response_size),
                    verifyCertificate: flags & SB_HTTP_TLS_NO_VERIFY == 0)
                let callback = Unchecked((done, user))
                let executor = ctx.executor
                let id = ctx.http.start(copied) { response in
                    // Handed to the plugin on its executor; everything it points to lives for the call.
                    executor.async { HostTables.deliver(response, to: callback.value.0, user: callback.value.1) }
                }
                outID?.pointee = id
                return SB_OK
            },
            cancel: { host, id in HostTables.context(host)?.http.cancel(id) }))
        udp = .allocate(capacity: 1)
        udp.initialize(to: sb_host_udp(
            struct_size: UInt32(MemoryLayout<sb_host_udp>.size),
            open: { host, interface, port, group, receive, user, outID, err, errSize in
                guard let ctx = HostTables.context(host), let receive else {
                    HostTables.write("no receive function", to: err, size: errSize)
                    return SB_ERR_INVALID
                }
                let name = interface.map { String(cString: $0) } ?? ""
                let groupText = group.map { String(cString: $0) }
                do throws(HostServiceProblem) {
                    let id = try ctx.udp.open(interface: name, port: port, group: groupText, receive: .init(fn: receive, user: user))
                    outID?.pointee = id
                    return SB_OK
                } catch {
                    ctx.logger.warning("plugin \(ctx.pluginID)#\(ctx.generation): UDP open failed: \(error.description)")
                    HostTables.write(error.description, to: err, size: errSize)
                    return error.status
                }
            },
            send: { host, id, address, port, data, size in
                guard let ctx = HostTables.context(host), let address, data != nil || size == 0 else { return SB_ERR_INVALID }
                let bytes = data.map { Array(UnsafeRawBufferPointer(start: $0, count: size)) } ?? []
                return ctx.udp.send(id, address: String(cString: address), port: port, bytes: bytes)
            },
            close: { host, id in HostTables.context(host)?.udp.close(id) }))
        routes = .allocate(capacity: 1)
        routes.initialize(to: sb_host_routes(
            struct_size: UInt32(MemoryLayout<sb_host_routes>.size),
            add: { host, path, fn, user, url, urlSize, outID in
                guard let ctx = HostTables.context(host), let path, let fn, let url, urlSize > 0 else { return SB_ERR_INVALID }
                switch ctx.addRoute(path: String(cString: path), urlCapacity: urlSize, callback: .init(fn: fn, user: user)) {
                case .success(let route):
                    HostTables.write(route.url, to: url, size: urlSize)
                    outID?.pointee = route.id
                    return SB_OK
                case .failure(let problem):
                    return problem.status
                }
            },
            remove: { host, id in HostTables.context(host)?.removeRoute(id) }))
        websocket = .allocate(capacity: 1)
        websocket.initialize(to: sb_host_websocket(
            struct_size: UInt32(MemoryLayout<sb_host_websocket>.size),
            open: { host, request, event, user, outID in
                guard let ctx = HostTables.context(host), let request, let event,
                      request.pointee.struct_size >= UInt32(MemoryLayout<sb_ws_request>.size),
                      let url = request.pointee.url else { return SB_ERR_INVALID }
                let r = request.pointee
                var headers: [(String, String)] = []
                if let h = r.headers {
                    for i in 0..<r.header_count {
                        guard let name = h[i].name, let value = h[i].value else { return SB_ERR_INVALID }
                        headers.append((String(cString: name), String(cString: value)))
                    }
                }
                let copied = PluginWebSocket.Request(
                    url: String(cString: url), headers: headers, subprotocol: r.subprotocol.map { String(cString: $0) },
                    verifyCertificate: r.flags & SB_HTTP_TLS_NO_VERIFY == 0,
                    timeout: r.timeout_ms == 0 ? PluginWebSocket.defaultTimeout : Double(r.timeout_ms) / 1000,
                    maxMessageSize: r.max_message_size == 0 ? PluginWebSocket.defaultMaxMessage
                                                            : Int(clamping: r.max_message_size))
                do throws(HostServiceProblem) {
                    try ctx.websocket.open(copied, events: .init(fn: event, user: user)) { outID?.pointee = $0 }
                    return SB_OK
                } catch {
                    ctx.logger.warning("plugin \(ctx.pluginID)#\(ctx.generation): WebSocket open refused: \(error.description)")
                    return error.status
                }
            },
            send_text: { host, id, text, size in
                guard let ctx = HostTables.context(host), text != nil || size == 0 else { return SB_ERR_INVALID }
                let bytes = text.map { Array(UnsafeRawBufferPointer(start: $0, count: size)) } ?? []
                return ctx.websocket.sendText(id, bytes: bytes)
            },
            close: { host, id in HostTables.context(host)?.websocket.close(id) }))
        settings = HostTables.makeSettingsTable()
        media = .allocate(capacity: 1)
        media.initialize(to: sb_host_media(
            struct_size: UInt32(MemoryLayout<sb_host_media>.size),
            put: { host, data, size, mime, ttl, url, urlSize in
                guard let ctx = HostTables.context(host), let store = ctx.media, let data, size > 0, let url, urlSize > 0 else {
                    return SB_ERR_INVALID
                }
                let bytes = Array(UnsafeRawBufferPointer(start: data, count: size))
                guard let location = store.put(bytes, mime: mime.map { String(cString: $0) } ?? "application/octet-stream",
                                               ttl: Double(ttl == 0 ? 600 : ttl)) else { return SB_ERR_FAILED }
                let utf8 = Array(location.utf8)
                guard utf8.count < urlSize else { return SB_ERR_FAILED }
                utf8.withUnsafeBufferPointer { src in
                    url.withMemoryRebound(to: UInt8.self, capacity: urlSize) { dst in
                        dst.update(from: src.baseAddress!, count: utf8.count)
                        dst[utf8.count] = 0
                    }
                }
                return SB_OK
            }))
    }

    /// `sb_http_request` as of ABI 1.0 ends before `flags`; the host accepts that size and up.
    static let httpRequest10Size = MemoryLayout<sb_http_request>.offset(of: \sb_http_request.flags)!
    /// A struct at least this big carries `flags`.
    static let httpFlagsEnd = httpRequest10Size + MemoryLayout<UInt32>.size

    /// Copies `text` into a caller's buffer, NUL-terminated, truncated to fit (on a UTF-8 boundary).
    static func write(_ text: String, to buffer: UnsafeMutablePointer<CChar>?, size: Int) {
        guard let buffer, size > 0 else { return }
        let all = Array(text.utf8)
        var n = min(all.count, size - 1)
        // Not in the middle of a character: back off to the start of the one that was cut.
        while n < all.count, n > 0, all[n] & 0xC0 == 0x80 { n -= 1 }
        let bytes = all[..<n]
        bytes.withUnsafeBufferPointer { src in
            buffer.withMemoryRebound(to: UInt8.self, capacity: size) { dst in
                if let base = src.baseAddress { dst.update(from: base, count: src.count) }
                dst[src.count] = 0
            }
        }
    }

    /// Builds the C view of a response for the duration of one call to the plugin's `done`.
    static func deliver(_ response: PluginHTTP.Response, to done: sb_http_done_fn, user: UnsafeMutableRawPointer?) {
        let names = response.headers.map { strdup($0.0) }, values = response.headers.map { strdup($0.1) }
        let error = response.error.flatMap { strdup($0) }
        defer {
            for p in names + values { free(p) }
            if let error { free(error) }
        }
        var headers = (0..<names.count).map { sb_http_header(name: names[$0], value: values[$0]) }
        response.body.withUnsafeBytes { body in
            headers.withUnsafeMutableBufferPointer { h in
                var c = sb_http_response()
                c.struct_size = UInt32(MemoryLayout<sb_http_response>.size)
                c.status = response.status
                c.http_status = response.httpStatus
                c.headers = UnsafePointer(h.baseAddress)
                c.header_count = h.count
                c.body = body.baseAddress
                c.body_size = body.count
                c.error = UnsafePointer(error)
                done(user, &c)
            }
        }
    }

    static func context(_ host: UnsafePointer<sb_host>?) -> PluginHostContext? {
        guard let data = host?.pointee.host_data else { return nil }
        return Unmanaged<PluginHostContext>.fromOpaque(data).takeUnretainedValue()
    }

    /// The services this host offers. The media store and callback routes are there when the
    /// daemon runs its media server (so not in every embedding of the registry).
    func lookup(_ id: String, for host: UnsafePointer<sb_host>?) -> UnsafeRawPointer? {
        switch id {
        case SB_HOST_EXT_LOG: UnsafeRawPointer(log)
        case SB_HOST_EXT_TIMERS: UnsafeRawPointer(timers)
        case SB_HOST_EXT_PUBLISH: UnsafeRawPointer(publish)
        case SB_HOST_EXT_OPERATIONS: UnsafeRawPointer(operations)
        case SB_HOST_EXT_MEDIA: HostTables.context(host)?.media == nil ? nil : UnsafeRawPointer(media)
        case SB_HOST_EXT_HTTP: UnsafeRawPointer(http)
        case SB_HOST_EXT_UDP: UnsafeRawPointer(udp)
        case SB_HOST_EXT_WEBSOCKET: UnsafeRawPointer(websocket)
        case SB_HOST_EXT_SETTINGS: UnsafeRawPointer(settings)
        case SB_HOST_EXT_ROUTES: HostTables.context(host)?.routeHost == nil ? nil : UnsafeRawPointer(routes)
        default: nil
        }
    }

    static var offered: [String] {
        [SB_HOST_EXT_LOG, SB_HOST_EXT_TIMERS, SB_HOST_EXT_PUBLISH, SB_HOST_EXT_OPERATIONS, SB_HOST_EXT_MEDIA, SB_HOST_EXT_HTTP,
         SB_HOST_EXT_UDP, SB_HOST_EXT_ROUTES, SB_HOST_EXT_WEBSOCKET, SB_HOST_EXT_SETTINGS]
    }
}

/// One instance's `sb_host`, alive from before `create` until after `destroy`.
final class HostHandle: @unchecked Sendable {
    // @unchecked: the struct is filled once in init and then only read by the plugin; it is freed
    // in deinit, which runs after the instance was destroyed (the generation owns both).
    let pointer: UnsafeMutablePointer<sb_host>
    private let name: UnsafeMutablePointer<CChar>
    private let version: UnsafeMutablePointer<CChar>

    init(context: PluginHostContext) {
        name = strdup("speakerbridge")
        version = strdup(SpeakerbridgeVersion.current)
        pointer = .allocate(capacity: 1)
        pointer.initialize(to: sb_host(
            struct_size: UInt32(MemoryLayout<sb_host>.size), abi_major: UInt16(PluginABI.major),
            abi_minor: UInt16(PluginABI.minor), name: name, version: version,
            host_data: Unmanaged.passRetained(context).toOpaque(),
            get_extension: { host, id in
                guard let id else { return nil }
                return HostTables.shared.lookup(String(cString: id), for: host)
            }))
    }

    deinit {
        if let data = pointer.pointee.host_data { Unmanaged<PluginHostContext>.fromOpaque(data).release() }
        pointer.deinitialize(count: 1)
        pointer.deallocate()
        free(name)
        free(version)
    }
}
