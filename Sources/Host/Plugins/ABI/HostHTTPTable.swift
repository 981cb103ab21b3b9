import Foundation
import PluginAPI

/// The HTTP client's C table (`SB_HOST_EXT_HTTP`): copies a plugin's request (of the 1.0 size or
/// later) and hands the answer back on the plugin's executor.
extension HostTables {
    static func makeHTTPTable() -> UnsafeMutablePointer<sb_host_http> {
        let table = UnsafeMutablePointer<sb_host_http>.allocate(capacity: 1)
        table.initialize(to: sb_host_http(
            struct_size: UInt32(MemoryLayout<sb_host_http>.size),
            request: { host, request, done, user, outID in
                // A plugin built against 1.0 has a shorter struct (up to `max_response_size`): read
                // the fields added since only when its `struct_size` covers them.
                // (Never `request.pointee`: that would read past the end of a 1.0 struct.)
                guard let ctx = HostTables.context(host), let request, let done else { return SB_ERR_INVALID }
                let size = Int(UnsafeRawPointer(request).load(as: UInt32.self))
                guard size >= HostTables.httpRequest10Size else { return SB_ERR_INVALID }
                var r = sb_http_request()
                // Copy only what the plugin's struct has; the rest stays zero (no flags).
                withUnsafeMutableBytes(of: &r) { dst in
                    dst.baseAddress!.copyMemory(from: UnsafeRawPointer(request), byteCount: min(size, dst.count))
                }
                guard let method = r.method, let url = r.url else { return SB_ERR_INVALID }
                let flags = size >= HostTables.httpFlagsEnd ? r.flags : 0
                var headers: [(String, String)] = []
                if let h = r.headers {
                    for i in 0..<r.header_count where h[i].name != nil && h[i].value != nil {
                        headers.append((String(cString: h[i].name), String(cString: h[i].value)))
                    }
                }
                let body = r.body.map { Array(UnsafeRawBufferPointer(start: $0, count: r.body_size)) } ?? []
                let copied = PluginHTTP.Request(
                    method: String(cString: method), url: String(cString: url), headers: headers, body: body,
                    timeout: r.timeout_ms == 0 ? PluginHTTP.defaultTimeout : Double(r.timeout_ms) / 1000,
                    maxResponseSize: r.max_response_size == 0 ? PluginHTTP.defaultMaxResponse : Int(r.max_response_size),
                    verifyCertificate: flags & SB_HTTP_TLS_NO_VERIFY == 0)
                let callback = Unchecked((done, user))
                let executor = ctx.executor
                let id = ctx.http.start(copied) { response in
                    // Handed to the plugin on its executor; everything it points to lives for the call.
                    executor.async { HostTables.deliver(response, to: callback.value.0, user: callback.value.1) }
                }
                outID?.pointee = id
                return SB_OK
            },
            cancel: { host, id in HostTables.context(host)?.http.cancel(id) }))
        return table
    }

    /// `sb_http_request` as of ABI 1.0 ends before `flags`; the host accepts that size and up.
    static let httpRequest10Size = MemoryLayout<sb_http_request>.offset(of: \sb_http_request.flags)!
    /// A struct at least this big carries `flags`.
    static let httpFlagsEnd = httpRequest10Size + MemoryLayout<UInt32>.size

    /// Builds the C view of a response for the duration of one call to the plugin's `done`.
    static func deliver(_ response: PluginHTTP.Response, to done: sb_http_done_fn, user: UnsafeMutableRawPointer?) {
        let names = response.headers.map { strdup($0.0) }, values = response.headers.map { strdup($0.1) }
        let error = response.error.flatMap { strdup($0) }
        defer {
            for p in names + values { free(p) }
            if let error { free(error) }
        }
        var headers = (0..<names.count).map { sb_http_header(name: names[$0], value: values[$0]) }
        response.body.withUnsafeBytes { body in
            headers.withUnsafeMutableBufferPointer { h in
                var c = sb_http_response()
                c.struct_size = UInt32(MemoryLayout<sb_http_response>.size)
                c.status = response.status
                c.http_status = response.httpStatus
                c.headers = UnsafePointer(h.baseAddress)
                c.header_count = h.count
                c.body = body.baseAddress
                c.body_size = body.count
                c.error = UnsafePointer(error)
                done(user, &c)
            }
        }
    }
}
