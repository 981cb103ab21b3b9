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
                // Read as the daemon's table reads it (a 1.0 struct is shorter).
                guard let services = ChildHostServices.from(host), let request, let done,
                      let r = HostTables.HTTPRequestView(request) else { return SB_ERR_INVALID }
                // A body that would not fit in one frame of the protocol (64 MiB) cannot be sent.
                guard r.body.count <= ChildHostTables.maxRequestBody else {
                    services.log(level: SB_LOG_WARNING, "HTTP request refused: a body of \(r.body.count) bytes (at most \(ChildHostTables.maxRequestBody) in process isolation)")
                    return SB_ERR_INVALID
                }
                let id = services.http.add(.init(fn: done, user: user))
                let call = HTTPRequestCall(id: id, method: r.method, url: r.url, headers: r.headers.map { HeaderPair($0.0, $0.1) },
                                           body: Array(r.body), timeoutMs: r.timeoutMs, maxResponseSize: UInt64(r.maxResponseSize),
                                           flags: r.flags)
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
