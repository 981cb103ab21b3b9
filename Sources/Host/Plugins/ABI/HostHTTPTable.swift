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
                guard let ctx = HostTables.context(host), let request, let done, let r = HTTPRequestView(request) else { return SB_ERR_INVALID }
                let copied = PluginHTTP.Request(
                    method: r.method, url: r.url, headers: r.headers, body: Array(r.body),
                    timeout: r.timeoutMs == 0 ? PluginHTTP.defaultTimeout : Double(r.timeoutMs) / 1000,
                    maxResponseSize: r.maxResponseSize == 0 ? PluginHTTP.defaultMaxResponse : r.maxResponseSize,
                    verifyCertificate: r.flags & SB_HTTP_TLS_NO_VERIFY == 0)
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

    /// A plugin's request read as far as its `struct_size` goes, for this table and the plugin
    /// host's alike. A plugin built against 1.0 has a shorter struct (up to `max_response_size`):
    /// the fields added since are read only when its size covers them (never `request.pointee`,
    /// which would read past the end of a 1.0 struct). `body` is the plugin's memory, valid for
    /// the call.
    struct HTTPRequestView {
        let method: String
        let url: String
        let headers: [(String, String)]
        let body: UnsafeRawBufferPointer
        let timeoutMs: UInt32
        let maxResponseSize: Int
        let flags: UInt32

        init?(_ request: UnsafePointer<sb_http_request>) {
            let size = Int(UnsafeRawPointer(request).load(as: UInt32.self))
            guard size >= HostTables.httpRequest10Size else { return nil }
            var r = sb_http_request()
            // Copy only what the plugin's struct has; the rest stays zero (no flags).
            withUnsafeMutableBytes(of: &r) { dst in
                dst.baseAddress!.copyMemory(from: UnsafeRawPointer(request), byteCount: min(size, dst.count))
            }
            guard let method = r.method, let url = r.url else { return nil }
            self.method = String(cString: method)
            self.url = String(cString: url)
            var headers: [(String, String)] = []
            if let h = r.headers {
                for i in 0..<r.header_count where h[i].name != nil && h[i].value != nil {
                    headers.append((String(cString: h[i].name), String(cString: h[i].value)))
                }
            }
            self.headers = headers
            body = UnsafeRawBufferPointer(start: r.body, count: r.body == nil ? 0 : r.body_size)
            timeoutMs = r.timeout_ms
            maxResponseSize = Int(r.max_response_size)
            flags = size >= HostTables.httpFlagsEnd ? r.flags : 0
        }
    }

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
