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

/// Polls `condition` every `interval` seconds until it is true or `timeout` seconds passed.
/// Returns the last result. LabKit waits by polling: Synchronization.Mutex has no condition
/// variable, and a few milliseconds of latency do not matter in tests.
@discardableResult
public func waitUntil(timeout: Double, interval: Double = 0.005, _ condition: () -> Bool) -> Bool {
    let deadline = ContinuousClock.now + .milliseconds(Int(timeout * 1000))
    while true {
        if condition() { return true }
        if ContinuousClock.now >= deadline { return false }
        Thread.sleep(forTimeInterval: interval)
    }
}

/// True for IPv4 literals in 127.0.0.0/8.
public func isLoopback(_ address: String) -> Bool {
    var addr = in_addr()
    return inet_pton(AF_INET, address, &addr) == 1 && UInt32(bigEndian: addr.s_addr) >> 24 == 127
}
