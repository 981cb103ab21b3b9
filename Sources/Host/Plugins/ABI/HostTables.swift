import Foundation
import Logging
import PluginAPI

/// The C side of the host: the service tables behind `get_extension` — log, timers, publish and
/// operations here, each other service's in its own Host…Table.swift. The tables are shared by all
/// plugins (the `host` argument says who is calling); each instance gets its own `sb_host`
/// (`HostHandle`) whose `host_data` is its `PluginHostContext`.
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
        http = HostTables.makeHTTPTable()
        udp = HostTables.makeUDPTable()
        routes = HostTables.makeRoutesTable()
        websocket = HostTables.makeWebSocketTable()
        settings = HostTables.makeSettingsTable()
        media = HostTables.makeMediaTable()
    }

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
