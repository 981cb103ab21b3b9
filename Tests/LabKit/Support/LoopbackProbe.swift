import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// True when a TCP connect to host:port succeeds right now, in our own network namespace.
/// Used as the readiness probe for brokers. Loopback (127.0.0.0/8) only: a probe to any other
/// address from our namespace could leave through the machine's real interfaces, which tests
/// must never do (lab addresses are probed from inside their namespace instead).
public func tcpConnects(host: String, port: Int) -> Bool {
    guard isLoopback(host) else { return false }
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { return false }
    defer { close(fd) }
    var addr = sockaddr_in()
    addr.sin_family = sa_family_t(AF_INET)
    addr.sin_port = UInt16(port).bigEndian
    guard inet_pton(AF_INET, host, &addr.sin_addr) == 1 else { return false }
    return withUnsafePointer(to: &addr) { ptr in
        ptr.withMemoryRebound(to: sockaddr.self, capacity: 1) {
            connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0
        }
    }
}

/// True for IPv4 literals in 127.0.0.0/8.
public func isLoopback(_ address: String) -> Bool {
    var addr = in_addr()
    return inet_pton(AF_INET, address, &addr) == 1 && UInt32(bigEndian: addr.s_addr) >> 24 == 127
}
