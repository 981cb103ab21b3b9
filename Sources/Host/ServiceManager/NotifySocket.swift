import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The service manager's notification socket (`$NOTIFY_SOCKET`): systemd's notify protocol without
/// libsystemd. A message is newline-separated `KEY=VALUE` lines in one datagram on a unix socket,
/// named by a path (`/run/systemd/notify`) or, with a leading `@`, in the abstract namespace.
public final class NotifySocket: Sendable {
    public struct Problem: Error, CustomStringConvertible {
        public let description: String
    }

    /// `$NOTIFY_SOCKET` as it was given.
    public let address: String
    private let fd: Int32
    /// A `sockaddr_un` and its length, built once; the same bytes for every datagram.
    private let socketAddress: [UInt8]

    public init(address: String) throws(Problem) {
        self.address = address
        var name = Array(address.utf8)
        if address.hasPrefix("@") {
            // Abstract namespace: a leading NUL instead of the "@", and no terminating NUL.
            name[0] = 0
        } else if address.hasPrefix("/") {
            name.append(0)
        } else {
            throw Problem(description: "NOTIFY_SOCKET=\(address): neither an absolute path nor an abstract name (@…); no notifications will be sent")
        }
        let pathOffset = MemoryLayout<sockaddr_un>.offset(of: \sockaddr_un.sun_path)!
        let pathCapacity = MemoryLayout<sockaddr_un>.size - pathOffset
        guard name.count <= pathCapacity else {
            throw Problem(description: "NOTIFY_SOCKET=\(address): longer than a unix socket name can be (\(pathCapacity) bytes)")
        }
        var bytes = [UInt8](repeating: 0, count: pathOffset + name.count)
        withUnsafeBytes(of: sa_family_t(AF_UNIX)) { family in
            for (i, byte) in family.enumerated() { bytes[i] = byte }
        }
        bytes.replaceSubrange(pathOffset..., with: name)
        socketAddress = bytes
        fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else {
            throw Problem(description: "NOTIFY_SOCKET=\(address): cannot create a datagram socket: \(String(cString: strerror(errno)))")
        }
    }

    deinit { close(fd) }

    /// Sends one message; the reason when it did not go out. Never blocks: a service manager that
    /// does not read (or a full queue) costs this message, not the caller's thread — the session
    /// loop sends its watchdog pings through here.
    public func send(_ lines: [String]) -> Problem? {
        let message = Array((lines.joined(separator: "\n") + "\n").utf8)
        let sent = socketAddress.withUnsafeBytes { address in
            message.withUnsafeBytes { payload in
                sendto(fd, payload.baseAddress, payload.count, Int32(MSG_NOSIGNAL) | Int32(MSG_DONTWAIT),
                       address.baseAddress!.assumingMemoryBound(to: sockaddr.self), socklen_t(address.count))
            }
        }
        guard sent < 0 else { return nil }
        return Problem(description: "cannot notify the service manager at \(address): \(String(cString: strerror(errno)))")
    }
}
