import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// A port free on every one of several addresses, held (bound, not listening) until the servers
/// listen on it: port 0 would let the kernel pick a different port per address, and a port picked
/// for one address may be taken on another.
///
/// The reserving sockets set SO_REUSEADDR like the servers do; on Linux two such sockets may share
/// an address and port as long as neither listens, so the servers can bind while the reservation
/// still keeps other programs off the port.
final class PortReservation: Sendable {
    let port: Int
    private let descriptors: Mutex<[Int32]>

    /// `fixed` 0: any port free on every host; otherwise that port, or an error naming the host
    /// that has it taken.
    init(hosts: [String], fixed: Int = 0, attempts: Int = 20) throws {
        var lastError = "no attempt"
        for _ in 0..<(fixed == 0 ? attempts : 1) {
            var held: [Int32] = []
            var port = fixed
            var failed = false
            for host in hosts {
                switch Self.bind(host: host, port: port) {
                case .success(let (fd, boundPort)):
                    held.append(fd)
                    port = boundPort
                case .failure(let error):
                    lastError = "\(host): \(error.description)"
                    failed = true
                }
                if failed { break }
            }
            if !failed {
                self.port = port
                descriptors = Mutex(held)
                return
            }
            for fd in held { close(fd) }
        }
        if fixed != 0 { throw MediaServerError(description: lastError) }
        throw MediaServerError(description: "no port is free on all of \(hosts.joined(separator: ", ")): \(lastError)")
    }

    func release() {
        for fd in descriptors.withLock({ d in defer { d = [] }; return d }) { close(fd) }
    }

    deinit { release() }

    private static func bind(host: String, port: Int) -> Result<(Int32, Int), MediaServerError> {
        var storage = sockaddr_storage()
        var length: socklen_t
        var v4 = in_addr()
        var v6 = in6_addr()
        if inet_pton(AF_INET, host, &v4) == 1 {
            length = socklen_t(MemoryLayout<sockaddr_in>.size)
            withUnsafeMutableBytes(of: &storage) { raw in
                let sin = raw.baseAddress!.assumingMemoryBound(to: sockaddr_in.self)
                sin.pointee.sin_family = sa_family_t(AF_INET)
                sin.pointee.sin_port = in_port_t(port).bigEndian
                sin.pointee.sin_addr = v4
            }
        } else if inet_pton(AF_INET6, host, &v6) == 1 {
            length = socklen_t(MemoryLayout<sockaddr_in6>.size)
            withUnsafeMutableBytes(of: &storage) { raw in
                let sin6 = raw.baseAddress!.assumingMemoryBound(to: sockaddr_in6.self)
                sin6.pointee.sin6_family = sa_family_t(AF_INET6)
                sin6.pointee.sin6_port = in_port_t(port).bigEndian
                sin6.pointee.sin6_addr = v6
            }
        } else {
            return .failure(MediaServerError(description: "not a numeric address"))
        }
        let fd = socket(Int32(storage.ss_family), Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return .failure(MediaServerError(description: "socket: \(String(cString: strerror(errno)))")) }
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        let bound = withUnsafePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.bind(fd, $0, length) }
        }
        guard bound == 0 else {
            let reason = String(cString: strerror(errno))
            close(fd)
            return .failure(MediaServerError(description: "bind: \(reason)"))
        }
        var local = sockaddr_storage()
        var localLength = socklen_t(MemoryLayout<sockaddr_storage>.size)
        _ = withUnsafeMutablePointer(to: &local) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &localLength) }
        }
        let boundPort = withUnsafeBytes(of: &local) { raw -> Int in
            // sin_port and sin6_port sit at the same offset.
            Int(UInt16(bigEndian: raw.load(fromByteOffset: MemoryLayout<sockaddr_in>.offset(of: \.sin_port)!, as: UInt16.self)))
        }
        return .success((fd, boundPort))
    }
}
