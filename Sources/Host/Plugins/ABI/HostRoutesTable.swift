import Foundation
import PluginAPI

/// The callback routes' C table (`SB_HOST_EXT_ROUTES`).
extension HostTables {
    static func makeRoutesTable() -> UnsafeMutablePointer<sb_host_routes> {
        let table = UnsafeMutablePointer<sb_host_routes>.allocate(capacity: 1)
        table.initialize(to: sb_host_routes(
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
        return table
    }
}
