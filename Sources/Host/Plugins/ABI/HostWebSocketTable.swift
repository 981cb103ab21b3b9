import Foundation
import PluginAPI

/// The WebSocket client's C table (`SB_HOST_EXT_WEBSOCKET`).
extension HostTables {
    static func makeWebSocketTable() -> UnsafeMutablePointer<sb_host_websocket> {
        let table = UnsafeMutablePointer<sb_host_websocket>.allocate(capacity: 1)
        table.initialize(to: sb_host_websocket(
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
        return table
    }
}
