import Foundation
import PluginAPI

/// The UDP service's C table (`SB_HOST_EXT_UDP`).
extension HostTables {
    static func makeUDPTable() -> UnsafeMutablePointer<sb_host_udp> {
        let table = UnsafeMutablePointer<sb_host_udp>.allocate(capacity: 1)
        table.initialize(to: sb_host_udp(
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
        return table
    }
}
