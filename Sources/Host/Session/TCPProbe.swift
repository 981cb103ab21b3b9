import Foundation

/// A non-blocking TCP connect with a deadline, done before handing the address to libmosquitto.
///
/// libmosquitto only sends MQTT 5 CONNECT properties (our Session Expiry Interval) from its
/// blocking connect, and a blocking connect to a silent address hangs for minutes in SYN retries.
/// Probing first keeps reconnects to a vanished broker bounded by `connect_timeout`.
enum TCPProbe {
    struct Failure: Error, CustomStringConvertible { let description: String }

    static func check(host: String, port: Int, timeout: Double) throws(Failure) {
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var list: UnsafeMutablePointer<addrinfo>?
        let rc = getaddrinfo(host, String(port), &hints, &list)
        guard rc == 0, let first = list else {
            throw Failure(description: "cannot resolve \(host): \(String(cString: gai_strerror(rc)))")
        }
        defer { freeaddrinfo(list) }
        var lastError = "no address"
        var entry: UnsafeMutablePointer<addrinfo>? = first
        while let ai = entry {
            entry = ai.pointee.ai_next
            let fd = socket(ai.pointee.ai_family, ai.pointee.ai_socktype | Int32(SOCK_CLOEXEC.rawValue), ai.pointee.ai_protocol)
            guard fd >= 0 else { continue }
            defer { close(fd) }
            _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
            if connect(fd, ai.pointee.ai_addr, ai.pointee.ai_addrlen) == 0 { return }
            guard errno == EINPROGRESS else {
                lastError = String(cString: strerror(errno))
                continue
            }
            var pfd = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
            let ready = poll(&pfd, 1, Int32(timeout * 1000))
            if ready == 0 {
                lastError = "no answer within \(timeout) s"
                continue
            }
            var soError: Int32 = 0
            var len = socklen_t(MemoryLayout<Int32>.size)
            getsockopt(fd, SOL_SOCKET, SO_ERROR, &soError, &len)
            if soError == 0 { return }
            lastError = String(cString: strerror(soError))
        }
        throw Failure(description: "cannot reach \(host):\(port): \(lastError)")
    }
}
