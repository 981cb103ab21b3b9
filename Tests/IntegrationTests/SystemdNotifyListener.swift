import Foundation
import LabKit
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// One datagram the daemon sent to the notify socket: its `KEY=VALUE` lines and when it came.
struct ServiceNotification: Sendable {
    let at: ContinuousClock.Instant
    let lines: [String]
    /// The sending process, from the kernel (SCM_CREDENTIALS), as systemd checks NotifyAccess=main.
    let senderPID: Int32?
    func has(_ line: String) -> Bool { lines.contains(line) }
    func value(_ key: String) -> String? {
        lines.first { $0.hasPrefix(key + "=") }.map { String($0.dropFirst(key.count + 1)) }
    }
}

/// systemd's side of the notify protocol: a unix datagram socket, bound to a path or to an
/// abstract name, that records every datagram. `address` is what goes into `NOTIFY_SOCKET`.
final class SystemdNotifyListener: Sendable {
    let address: String
    private let fd: Int32
    private let received = Mutex<[ServiceNotification]>([])
    private let stopped = Atomic<Bool>(false)
    private let finished = Mutex<Bool>(false)

    /// `path`: bind there; nil: an abstract name (`@speakerbridge-test-…`).
    init(path: String?) throws {
        let name = path ?? "@speakerbridge-test-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        var bytes = Array(name.utf8)
        if path == nil { bytes[0] = 0 } else { bytes.append(0) }
        let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw LabError("socket: \(String(cString: strerror(errno)))") }
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &addr.sun_path) { raw in
            for (i, b) in bytes.enumerated() { raw[i] = b }
        }
        let length = socklen_t(MemoryLayout<sockaddr_un>.offset(of: \sockaddr_un.sun_path)! + bytes.count)
        let rc = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) }
        }
        guard rc == 0 else {
            let why = String(cString: strerror(errno))
            close(fd)
            throw LabError("bind \(name): \(why)")
        }
        // Reads wake up every 100 ms to notice `stop()`.
        var timeout = timeval(tv_sec: 0, tv_usec: 100_000)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var on: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_PASSCRED, &on, socklen_t(MemoryLayout<Int32>.size))
        self.fd = fd
        address = name
        let thread = Thread { [self] in self.receive() }
        thread.name = "notify-listener"
        thread.start()
    }

    private func receive() {
        var buffer = [UInt8](repeating: 0, count: 8192)
        var control = [UInt8](repeating: 0, count: 64)
        while !stopped.load(ordering: .acquiring) {
            var sender: Int32?
            let n = buffer.withUnsafeMutableBytes { data in
                control.withUnsafeMutableBytes { controlBytes in
                    var iov = iovec(iov_base: data.baseAddress, iov_len: data.count)
                    return withUnsafeMutablePointer(to: &iov) { iovPointer in
                        var message = msghdr()
                        message.msg_iov = iovPointer
                        message.msg_iovlen = 1
                        message.msg_control = controlBytes.baseAddress
                        message.msg_controllen = controlBytes.count
                        let n = recvmsg(fd, &message, 0)
                        // struct cmsghdr { size_t len; int level; int type; } then struct ucred { pid; uid; gid }.
                        if n > 0, message.msg_controllen >= 28,
                           controlBytes.load(fromByteOffset: 8, as: Int32.self) == SOL_SOCKET,
                           controlBytes.load(fromByteOffset: 12, as: Int32.self) == 2 /* SCM_CREDENTIALS */ {
                            sender = controlBytes.load(fromByteOffset: 16, as: Int32.self)
                        }
                        return n
                    }
                }
            }
            guard n > 0 else { continue }
            let text = String(decoding: buffer[0..<n], as: UTF8.self)
            let lines = text.split(separator: "\n").map(String.init)
            received.withLock { $0.append(ServiceNotification(at: .now, lines: lines, senderPID: sender)) }
        }
        finished.withLock { $0 = true }
    }

    var notifications: [ServiceNotification] { received.withLock { $0 } }

    /// Every line received so far, in order (for failure messages).
    var transcript: String { notifications.map { $0.lines.joined(separator: " ") }.joined(separator: "\n") }

    /// The first notification (after the `skip` first ones) that matches; throws after `timeout`.
    @discardableResult
    func waitFor(after skip: Int = 0, timeout: Double = 20, _ what: String,
                 _ matches: (ServiceNotification) -> Bool) throws -> (index: Int, notification: ServiceNotification) {
        var found: (Int, ServiceNotification)?
        _ = waitUntil(timeout: timeout, interval: 0.02) {
            let all = notifications
            if let i = all.indices.dropFirst(skip).first(where: { matches(all[$0]) }) { found = (i, all[i]) }
            return found != nil
        }
        guard let found else { throw LabError("no \(what) on the notify socket within \(timeout) s; received:\n\(transcript)") }
        return found
    }

    func count(_ line: String, from: ContinuousClock.Instant, to: ContinuousClock.Instant) -> Int {
        notifications.filter { $0.at >= from && $0.at < to && $0.has(line) }.count
    }

    func stop() {
        stopped.store(true, ordering: .releasing)
        _ = waitUntil(timeout: 2, interval: 0.01) { finished.withLock { $0 } }
        close(fd)
    }
}
