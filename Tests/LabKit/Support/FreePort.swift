import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A TCP port on 127.0.0.1 that was free a moment ago: bind port 0, read what the kernel chose,
/// close. Racy by nature (someone else may take it), but good enough for a test machine.
public func freePort() -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    precondition(fd >= 0, "socket() failed")
    defer { close(fd) }
    var addr = sockaddr_in()
    addr.sin_family = sa_family_t(AF_INET)
    addr.sin_port = 0
    addr.sin_addr.s_addr = inet_addr("127.0.0.1")
    var len = socklen_t(MemoryLayout<sockaddr_in>.size)
    let ok = withUnsafeMutablePointer(to: &addr) { ptr in
        ptr.withMemoryRebound(to: sockaddr.self, capacity: 1) { sa -> Bool in
            bind(fd, sa, len) == 0 && getsockname(fd, sa, &len) == 0
        }
    }
    precondition(ok, "bind/getsockname failed: \(String(cString: strerror(errno)))")
    return Int(UInt16(bigEndian: addr.sin_port))
}
