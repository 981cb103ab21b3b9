import Foundation
import PluginAPI

/// The media store's C table (`SB_HOST_EXT_MEDIA`).
extension HostTables {
    static func makeMediaTable() -> UnsafeMutablePointer<sb_host_media> {
        let table = UnsafeMutablePointer<sb_host_media>.allocate(capacity: 1)
        table.initialize(to: sb_host_media(
            struct_size: UInt32(MemoryLayout<sb_host_media>.size),
            put: { host, data, size, mime, ttl, url, urlSize in
                guard let ctx = HostTables.context(host), let store = ctx.media, let data, size > 0, let url, urlSize > 0 else {
                    return SB_ERR_INVALID
                }
                let bytes = Array(UnsafeRawBufferPointer(start: data, count: size))
                guard let location = store.put(bytes, mime: mime.map { String(cString: $0) } ?? "application/octet-stream",
                                               ttl: Double(ttl == 0 ? 600 : ttl)) else { return SB_ERR_FAILED }
                let utf8 = Array(location.utf8)
                guard utf8.count < urlSize else { return SB_ERR_FAILED }
                utf8.withUnsafeBufferPointer { src in
                    url.withMemoryRebound(to: UInt8.self, capacity: urlSize) { dst in
                        dst.update(from: src.baseAddress!, count: utf8.count)
                        dst[utf8.count] = 0
                    }
                }
                return SB_OK
            }))
        return table
    }
}
