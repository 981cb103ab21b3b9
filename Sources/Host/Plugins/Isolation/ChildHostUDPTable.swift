import Foundation
import PluginAPI

/// UDP inside the plugin host (`SB_HOST_EXT_UDP`): the daemon opens and owns the socket (the
/// interface rules, the 32-socket cap and multicast are its); datagrams come back as `udpReceive`.
extension ChildHostTables {
    static func makeUDPTable() -> UnsafeMutablePointer<sb_host_udp> {
        let table = UnsafeMutablePointer<sb_host_udp>.allocate(capacity: 1)
        table.initialize(to: sb_host_udp(
            struct_size: UInt32(MemoryLayout<sb_host_udp>.size),
            open: { host, interface, port, group, receive, user, outID, err, errSize in
                guard let services = ChildHostServices.from(host), let receive else {
                    HostTables.write("no receive function", to: err, size: errSize)
                    return SB_ERR_INVALID
                }
                let id = services.udp.add(ChildHostServices.UDPSocket(.init(fn: receive, user: user)))
                let request = UDPOpenRequest(id: id, interface: interface.map { String(cString: $0) }, port: port,
                                             group: group.map { String(cString: $0) })
                guard let answer = services.call(.udpOpen, request.encode()), let reply = try? ServiceStatusTextReply(decoding: answer) else {
                    services.udp.remove(id)
                    HostTables.write("the daemon did not answer", to: err, size: errSize)
                    return SB_ERR_FAILED
                }
                guard reply.status == SB_OK else {
                    services.udp.remove(id)
                    HostTables.write(reply.text, to: err, size: errSize)
                    return reply.status
                }
                outID?.pointee = id
                return SB_OK
            },
            send: { host, id, address, port, data, size in
                guard let services = ChildHostServices.from(host), let address, data != nil || size == 0 else { return SB_ERR_INVALID }
                // The daemon's answers, in its order, for what must not cross: a closed socket, and
                // more than a datagram carries (which could exceed a frame).
                guard services.udp.get(id) != nil else { return SB_ERR_NOT_FOUND }
                guard size <= PluginUDP.maxDatagram else { return SB_ERR_INVALID }
                let bytes = data.map { Array(UnsafeRawBufferPointer(start: $0, count: size)) } ?? []
                return services.status(.udpSend, UDPSendRequest(id: id, address: String(cString: address), port: port, data: bytes).encode())
            },
            close: { host, id in
                guard let services = ChildHostServices.from(host), services.udp.remove(id) != nil else { return }
                services.notify(.udpClose, ServiceIDNote(id: id).encode())
            }))
        return table
    }
}
