import Foundation
import PluginAPI

/// The WebSocket client inside the plugin host (`SB_HOST_EXT_WEBSOCKET`): the daemon connects and
/// owns the socket (its checks, caps and TLS); events come back as `wsEvent`, handed to the plugin
/// on its executor in order, none once `close` returned.
extension ChildHostTables {
    static func makeWebSocketTable() -> UnsafeMutablePointer<sb_host_websocket> {
        let table = UnsafeMutablePointer<sb_host_websocket>.allocate(capacity: 1)
        table.initialize(to: sb_host_websocket(
            struct_size: UInt32(MemoryLayout<sb_host_websocket>.size),
            open: { host, request, event, user, outID in
                guard let services = ChildHostServices.from(host), let request, let event,
                      request.pointee.struct_size >= UInt32(MemoryLayout<sb_ws_request>.size),
                      let url = request.pointee.url else { return SB_ERR_INVALID }
                let r = request.pointee
                var headers: [HeaderPair] = []
                if let h = r.headers {
                    for i in 0..<r.header_count {
                        guard let name = h[i].name, let value = h[i].value else { return SB_ERR_INVALID }
                        headers.append(HeaderPair(String(cString: name), String(cString: value)))
                    }
                }
                // Registered (and written to `out_socket_id`) before the daemon can send an event.
                let id = services.websockets.add(.init(fn: event, user: user))
                outID?.pointee = id
                let call = WebSocketOpenRequest(id: id, url: String(cString: url), headers: headers,
                                                subprotocol: r.subprotocol.map { String(cString: $0) }, flags: r.flags,
                                                timeoutMs: r.timeout_ms, maxMessageSize: UInt64(r.max_message_size))
                let status = services.status(.wsOpen, call.encode())
                if status != SB_OK { services.websockets.remove(id) }
                return status
            },
            send_text: { host, id, text, size in
                guard let services = ChildHostServices.from(host), text != nil || size == 0 else { return SB_ERR_INVALID }
                // The daemon's answers, in its order, for what need not cross: a closed socket, and a
                // message bigger than it accepts.
                guard services.websockets.get(id) != nil else { return SB_ERR_NOT_FOUND }
                guard size <= PluginWebSocket.maxOutgoingMessage else { return SB_ERR_INVALID }
                let bytes = text.map { Array(UnsafeRawBufferPointer(start: $0, count: size)) } ?? []
                return services.status(.wsSend, WebSocketSendRequest(id: id, text: bytes).encode())
            },
            close: { host, id in
                guard let services = ChildHostServices.from(host), services.websockets.remove(id) != nil else { return }
                services.notify(.wsClose, ServiceIDNote(id: id).encode())
            }))
        return table
    }
}
