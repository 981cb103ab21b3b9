import Foundation
import PluginAPI

/// Callback routes inside the plugin host (`SB_HOST_EXT_ROUTES`): the daemon's server holds the
/// path (its rules, hand-over to a newer generation, URL); a request to it comes back as a
/// `routeRequest` call, answered with the status the plugin's function returns on its executor.
extension ChildHostTables {
    static func makeRoutesTable() -> UnsafeMutablePointer<sb_host_routes> {
        let table = UnsafeMutablePointer<sb_host_routes>.allocate(capacity: 1)
        table.initialize(to: sb_host_routes(
            struct_size: UInt32(MemoryLayout<sb_host_routes>.size),
            add: { host, path, fn, user, url, urlSize, outID in
                guard let services = ChildHostServices.from(host), let path, let fn, let url, urlSize > 0 else { return SB_ERR_INVALID }
                let id = services.routes.add(.init(fn: fn, user: user))
                let request = RouteAddRequest(id: id, path: String(cString: path), urlCapacity: UInt64(urlSize))
                guard let answer = services.call(.routeAdd, request.encode()), let reply = try? ServiceStatusTextReply(decoding: answer) else {
                    services.routes.remove(id)
                    return SB_ERR_FAILED
                }
                guard reply.status == SB_OK else {
                    services.routes.remove(id)
                    return reply.status
                }
                HostTables.write(reply.text, to: url, size: urlSize)
                outID?.pointee = id
                return SB_OK
            },
            remove: { host, id in
                guard let services = ChildHostServices.from(host), services.routes.remove(id) != nil else { return }
                services.notify(.routeRemove, ServiceIDNote(id: id).encode())
            }))
        return table
    }
}
