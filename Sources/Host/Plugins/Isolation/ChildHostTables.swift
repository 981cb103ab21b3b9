import Foundation
import PluginAPI

/// The C tables of the host services inside the plugin host process (the child's counterpart of
/// HostTables): log, timers, publish and operations here, each other service's in its own
/// ChildHost…Table.swift. Shared by the process's one instance through its `sb_host`, whose
/// `host_data` is the `ChildHostServices`.
///
/// A table checks only what it must to read the plugin's arguments (NULL pointers, a struct's
/// size); every other rule is the daemon's, applied by the same C tables that serve inline plugins.
final class ChildHostTables: @unchecked Sendable {
    // @unchecked: the tables are allocated and filled once in init, never written again, and only
    // read (by C code) afterwards.
    static let shared = ChildHostTables()

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
            guard let services = ChildHostServices.from(host), let message else { return }
            services.notify(.log, LogNote(level: level, text: String(cString: message)).encode())
        }))
        timers = .allocate(capacity: 1)
        timers.initialize(to: sb_host_timers(
            struct_size: UInt32(MemoryLayout<sb_host_timers>.size),
            start: { host, delay, period, fn, user, outID in
                guard let services = ChildHostServices.from(host), let fn else { return SB_ERR_INVALID }
                let id = services.timers.start(delayMs: delay, periodMs: period, callback: .init(fn: fn, user: user))
                outID?.pointee = id
                return SB_OK
            },
            cancel: { host, id in ChildHostServices.from(host)?.timers.cancel(id) }))
        publish = .allocate(capacity: 1)
        publish.initialize(to: sb_host_publish(
            struct_size: UInt32(MemoryLayout<sb_host_publish>.size),
            speaker_state: { host, speaker, json in
                guard let services = ChildHostServices.from(host), let speaker, let json else { return SB_ERR_INVALID }
                return services.status(.publishState, PublishStateRequest(speaker: String(cString: speaker), json: String(cString: json)).encode())
            },
            speaker_availability: { host, speaker, online in
                guard let services = ChildHostServices.from(host), let speaker else { return SB_ERR_INVALID }
                return services.status(.publishAvailability, PublishAvailabilityRequest(speaker: String(cString: speaker), online: online).encode())
            },
            event: { host, name, json in
                guard let services = ChildHostServices.from(host), let name, let json else { return SB_ERR_INVALID }
                return services.status(.publishEvent, PublishEventRequest(name: String(cString: name), json: String(cString: json)).encode())
            }))
        operations = .allocate(capacity: 1)
        operations.initialize(to: sb_host_operations(
            struct_size: UInt32(MemoryLayout<sb_host_operations>.size),
            complete: { host, id, status, detail in
                guard let services = ChildHostServices.from(host) else { return }
                // A note: the socket keeps it in order behind whatever the plugin sent before.
                services.notify(.complete, CompleteNote(operationID: id, status: status, detail: detail.map { String(cString: $0) }).encode())
            }))
        media = ChildHostTables.makeMediaTable()
        http = ChildHostTables.makeHTTPTable()
        udp = ChildHostTables.makeUDPTable()
        routes = ChildHostTables.makeRoutesTable()
        websocket = ChildHostTables.makeWebSocketTable()
        settings = ChildHostTables.makeSettingsTable()
    }

    /// The table for `id` when the daemon serves it for this instance (as inline, the media store
    /// and routes only with its HTTP server).
    func lookup(_ id: String, offered: (String) -> Bool) -> UnsafeRawPointer? {
        let table: UnsafeRawPointer? = switch id {
        case SB_HOST_EXT_LOG: UnsafeRawPointer(log)
        case SB_HOST_EXT_TIMERS: UnsafeRawPointer(timers)
        case SB_HOST_EXT_PUBLISH: UnsafeRawPointer(publish)
        case SB_HOST_EXT_OPERATIONS: UnsafeRawPointer(operations)
        case SB_HOST_EXT_MEDIA: UnsafeRawPointer(media)
        case SB_HOST_EXT_HTTP: UnsafeRawPointer(http)
        case SB_HOST_EXT_UDP: UnsafeRawPointer(udp)
        case SB_HOST_EXT_ROUTES: UnsafeRawPointer(routes)
        case SB_HOST_EXT_WEBSOCKET: UnsafeRawPointer(websocket)
        case SB_HOST_EXT_SETTINGS: UnsafeRawPointer(settings)
        default: nil
        }
        guard let table, offered(id) else { return nil }
        return table
    }
}
