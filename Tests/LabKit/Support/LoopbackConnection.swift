import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A plain TCP connection to a port on 127.0.0.1, for talking HTTP by hand: whole requests,
/// requests sent a byte at a time (slowloris), oversized heads. Blocking, with a receive timeout.
/// Loopback only, like every probe here, or the test-made veth pair of a browser's namespace
/// (10.232.0.0/16, see BrowserNamespace): nothing leaves through the machine's real interfaces.
public final class LoopbackConnection {
    private var fd: Int32

    /// `from`: the loopback address to send from (all of 127/8 is this machine), so a test can play
    /// another host on the LAN; nil: the kernel's choice.
    public init(port: Int, host: String = "127.0.0.1", from source: String? = nil) throws {
        guard isLoopback(host) || Self.isBrowserPair(host) else {
            throw LabError("LoopbackConnection: \(host) is neither loopback nor in 10.232.0.0/16 (a browser namespace's pair)")
        }
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw LabError("socket: \(String(cString: strerror(errno)))") }
        if let source {
            guard isLoopback(source) else { throw LabError("LoopbackConnection: \(source) is not a loopback address") }
            var local = sockaddr_in()
            local.sin_family = sa_family_t(AF_INET)
            _ = inet_pton(AF_INET, source, &local.sin_addr)
            let bound = withUnsafePointer(to: &local) { ptr in
                ptr.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            guard bound == 0 else {
                let reason = String(cString: strerror(errno))
                close(fd)
                throw LabError("bind to \(source): \(reason)")
            }
        }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = UInt16(port).bigEndian
        _ = inet_pton(AF_INET, host, &addr.sin_addr)
        let connected = withUnsafePointer(to: &addr) { ptr in
            ptr.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else {
            let reason = String(cString: strerror(errno))
            close(fd)
            throw LabError("connect to \(host):\(port): \(reason)")
        }
    }

    deinit { if fd >= 0 { close(fd) } }

    /// 10.232.0.0/16: the addresses BrowserNamespace gives the veth pairs it makes.
    static func isBrowserPair(_ host: String) -> Bool {
        var addr = in_addr()
        guard inet_pton(AF_INET, host, &addr) == 1 else { return false }
        return UInt32(bigEndian: addr.s_addr) >> 16 == (10 << 8 | 232)
    }

    /// Writes all of `bytes`; false when the peer has closed (or reset) the connection.
    @discardableResult
    public func send(_ bytes: [UInt8]) -> Bool {
        var offset = 0
        while offset < bytes.count {
            let n = bytes[offset...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n <= 0 { return false }
            offset += n
        }
        return true
    }

    @discardableResult
    public func send(_ text: String) -> Bool { send(Array(text.utf8)) }

    /// What the peer has sent by now, waiting up to `timeout` seconds for the first bytes; `closed`
    /// when the peer has closed (or reset) the connection. For streamed answers (server-sent events).
    public func readSome(timeout: Double) -> (bytes: [UInt8], closed: Bool) {
        var tv = timeval(tv_sec: Int(timeout), tv_usec: Int((timeout - Double(Int(timeout))) * 1_000_000))
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        var buffer = [UInt8](repeating: 0, count: 64 << 10)
        let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        if n > 0 { return (Array(buffer[0..<n]), false) }
        if n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) { return ([], true) }
        return ([], false)
    }

    /// Keeps the kernel from buffering much for this socket (SO_RCVBUF; the kernel doubles it and
    /// has a floor), so a peer writing to a client that never reads is held back soon.
    public func shrinkReceiveBuffer(to bytes: Int) {
        var size = Int32(bytes)
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size))
    }

    /// Everything the peer sends until it closes the connection or `timeout` seconds pass; `closed`
    /// tells which.
    public func readToEnd(timeout: Double) -> (bytes: [UInt8], closed: Bool) {
        let deadline = Date().addingTimeInterval(timeout)
        var out: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 16 << 10)
        while true {
            let left = deadline.timeIntervalSinceNow
            if left <= 0 { return (out, false) }
            var tv = timeval(tv_sec: Int(left), tv_usec: Int((left - Double(Int(left))) * 1_000_000))
            setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n > 0 {
                out.append(contentsOf: buffer[0..<n])
            } else if n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
                return (out, true)
            }
        }
    }
}
