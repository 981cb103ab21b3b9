import Foundation
import PluginAPI

/// The media store inside the plugin host (`SB_HOST_EXT_MEDIA`): the clip goes to the daemon in a
/// memfd passed with the call (SCM_RIGHTS), never through the socket; the daemon's media table
/// stores it and the URL comes back.
extension ChildHostTables {
    static func makeMediaTable() -> UnsafeMutablePointer<sb_host_media> {
        let table = UnsafeMutablePointer<sb_host_media>.allocate(capacity: 1)
        table.initialize(to: sb_host_media(
            struct_size: UInt32(MemoryLayout<sb_host_media>.size),
            put: { host, data, size, mime, ttl, url, urlSize in
                // The same refusals as the daemon's table, checked here because without the bytes
                // (or a buffer for the URL) there is nothing to send.
                guard let services = ChildHostServices.from(host), let data, size > 0, let url, urlSize > 0 else { return SB_ERR_INVALID }
                guard let fd = ClipMemory.file(copying: UnsafeRawBufferPointer(start: data, count: size)) else {
                    services.log(level: SB_LOG_ERROR, "media put: cannot make a memory file for a clip of \(size) bytes: \(String(cString: strerror(errno)))")
                    return SB_ERR_FAILED
                }
                let request = MediaPutRequest(size: UInt64(size), mime: mime.map { String(cString: $0) }, ttlSeconds: ttl,
                                              urlCapacity: UInt64(urlSize))
                let answer = services.call(.mediaPut, request.encode(), fds: [fd])
                // The kernel gave the daemon its own descriptor with the message.
                Glibc.close(fd)
                guard let answer, let reply = try? ServiceStatusTextReply(decoding: answer) else { return SB_ERR_FAILED }
                if reply.status == SB_OK { HostTables.write(reply.text, to: url, size: urlSize) }
                return reply.status
            }))
        return table
    }
}

/// An anonymous memory file holding a clip, to pass to the daemon (memfd_create, looked up at run
/// time because Glibc's Swift module does not declare it).
enum ClipMemory {
    private typealias MemfdCreate = @convention(c) (UnsafePointer<CChar>, UInt32) -> Int32
    private static let MFD_CLOEXEC: UInt32 = 1

    private static let memfdCreate: MemfdCreate? = {
        // nil is RTLD_DEFAULT: the C library the process already has.
        guard let symbol = dlsym(nil, "memfd_create") else { return nil }
        return unsafeBitCast(symbol, to: MemfdCreate.self)
    }()

    /// A descriptor of a new memory file holding `bytes`, or nil (errno says why).
    static func file(copying bytes: UnsafeRawBufferPointer) -> Int32? {
        guard let create = memfdCreate else {
            errno = ENOSYS
            return nil
        }
        let fd = create("speakerbridge-clip", MFD_CLOEXEC)
        guard fd >= 0 else { return nil }
        var written = 0
        while written < bytes.count {
            let n = write(fd, bytes.baseAddress! + written, bytes.count - written)
            if n < 0 {
                if errno == EINTR { continue }
                let saved = errno
                Glibc.close(fd)
                errno = saved
                return nil
            }
            written += n
        }
        return fd
    }
}
