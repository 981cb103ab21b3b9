import Foundation
import PluginAPI

/// The HTTP client inside the plugin host (`SB_HOST_EXT_HTTP`): the request goes to the daemon
/// under an id handed out (and registered with `done`) here first; the answer comes back as
/// `httpDone` and is handed to the plugin on its executor, unless `cancel` came first.
extension ChildHostTables {
    /// Leaves room in a frame for the request's other fields.
    static let maxRequestBody = PluginChannel.maxFrame - (1 << 20)

    static func makeHTTPTable() -> UnsafeMutablePointer<sb_host_http> {
        let table = UnsafeMutablePointer<sb_host_http>.allocate(capacity: 1)
        table.initialize(to: sb_host_http(
            struct_size: UInt32(MemoryLayout<sb_host_http>.size),
            request: { host, request, done, user, outID in
                guard let services = ChildHostServices.from(host), let request, let done else { return SB_ERR_INVALID }
                // As the daemon's table: a 1.0 struct is shorter; read `flags` only when it is there.
                let size = Int(UnsafeRawPointer(request).load(as: UInt32.self))
                guard size >= HostTables.httpRequest10Size else { return SB_ERR_INVALID }
                var r = sb_http_request()
                withUnsafeMutableBytes(of: &r) { dst in
                    dst.baseAddress!.copyMemory(from: UnsafeRawPointer(request), byteCount: min(size, dst.count))
                }
                guard let method = r.method, let url = r.url else { return SB_ERR_INVALID }
                var headers: [HeaderPair] = []
                if let h = r.headers {
                    for i in 0..<r.header_count where h[i].name != nil && h[i].value != nil {
                        headers.append(HeaderPair(String(cString: h[i].name), String(cString: h[i].value)))
                    }
                }
                // A body that would not fit in one frame of the protocol (64 MiB) cannot be sent.
                guard r.body_size <= ChildHostTables.maxRequestBody else {
                    services.log(level: SB_LOG_WARNING, "HTTP request refused: a body of \(r.body_size) bytes (at most \(ChildHostTables.maxRequestBody) in process isolation)")
                    return SB_ERR_INVALID
                }
                let body = r.body.map { Array(UnsafeRawBufferPointer(start: $0, count: r.body_size)) } ?? []
                let id = services.http.add(.init(fn: done, user: user))
                let call = HTTPRequestCall(id: id, method: String(cString: method), url: String(cString: url), headers: headers, body: body,
                                           timeoutMs: r.timeout_ms, maxResponseSize: UInt64(r.max_response_size),
                                           flags: size >= HostTables.httpFlagsEnd ? r.flags : 0)
                let status = services.status(.httpRequest, call.encode())
                guard status == SB_OK else {
                    services.http.remove(id)
                    return status
                }
                outID?.pointee = id
                return SB_OK
            },
            cancel: { host, id in
                guard let services = ChildHostServices.from(host), services.http.remove(id) != nil else { return }
                services.notify(.httpCancel, ServiceIDNote(id: id).encode())
            }))
        return table
    }
}
