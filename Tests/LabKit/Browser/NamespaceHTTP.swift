import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// One HTTP/1.1 request on its own TCP connection, to the browser's namespace or to our end of its
/// pair (the WebDriver calls, the test's own requests to the daemon's admin listener there).
/// Addresses are limited to 10.232.0.0/16 and loopback: like LoopbackConnection, nothing here may
/// leave through the machine's real interfaces.
public enum NamespaceHTTP {
    public struct Answer: Sendable {
        public let status: Int
        /// Header names lower-cased.
        public let headers: [String: String]
        public let body: [UInt8]
        public var text: String { String(decoding: body, as: UTF8.self) }
    }

    /// Sends the request and reads one response: to its Content-Length, its last chunk, or the
    /// connection's end (a server need not close a kept-alive connection, so the length decides).
    public static func request(host: String, port: Int, method: String, path: String,
                               headers: [(String, String)] = [], body: [UInt8]? = nil,
                               timeout: Double = 30) throws -> Answer {
        let fd = try connect(host: host, port: port)
        defer { close(fd) }
        var head = "\(method) \(path) HTTP/1.1\r\nHost: \(host):\(port)\r\nConnection: close\r\n"
        for (name, value) in headers { head += "\(name): \(value)\r\n" }
        if let body { head += "Content-Length: \(body.count)\r\n" }
        head += "\r\n"
        guard send(fd, Array(head.utf8) + (body ?? [])) else {
            throw LabError("\(method) http://\(host):\(port)\(path): the connection closed while sending")
        }
        return try receive(fd, timeout: timeout, what: "\(method) http://\(host):\(port)\(path)")
    }

    /// 10.232.0.0/16 (the browser namespaces' pairs) or 127.0.0.0/8.
    static func allowed(_ host: String) -> Bool {
        var addr = in_addr()
        guard inet_pton(AF_INET, host, &addr) == 1 else { return false }
        let ip = UInt32(bigEndian: addr.s_addr)
        return ip >> 24 == 127 || ip >> 16 == (10 << 8 | 232)
    }

    private static func connect(host: String, port: Int) throws -> Int32 {
        guard allowed(host) else { throw LabError("NamespaceHTTP: \(host) is neither in 10.232.0.0/16 nor loopback") }
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw LabError("socket: \(String(cString: strerror(errno)))") }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = UInt16(port).bigEndian
        _ = inet_pton(AF_INET, host, &addr.sin_addr)
        let connected = withUnsafePointer(to: &addr) { ptr in
            ptr.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else {
            let reason = String(cString: strerror(errno))
            close(fd)
            throw LabError("connect to \(host):\(port): \(reason)")
        }
        return fd
    }

    private static func send(_ fd: Int32, _ bytes: [UInt8]) -> Bool {
        var offset = 0
        while offset < bytes.count {
            let n = bytes[offset...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n <= 0 { return false }
            offset += n
        }
        return true
    }

    private static func receive(_ fd: Int32, timeout: Double, what: String) throws -> Answer {
        let deadline = Date().addingTimeInterval(timeout)
        var data: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 64 << 10)
        var closed = false
        while true {
            if let answer = try parse(data, closed: closed, what: what) { return answer }
            if closed { throw LabError("\(what): the connection closed before a whole response: \(String(decoding: data.prefix(500), as: UTF8.self).debugDescription)") }
            let left = deadline.timeIntervalSinceNow
            if left <= 0 { throw LabError("\(what): no whole response within \(timeout) s (have \(data.count) bytes)") }
            var tv = timeval(tv_sec: Int(left), tv_usec: Int((left - Double(Int(left))) * 1_000_000))
            setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n > 0 {
                data.append(contentsOf: buffer[0..<n])
            } else if n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
                closed = true
            }
        }
    }

    /// The response once `data` holds all of it; nil while more is to come.
    private static func parse(_ data: [UInt8], closed: Bool, what: String) throws -> Answer? {
        let separator: [UInt8] = Array("\r\n\r\n".utf8)
        guard let split = data.firstRange(of: separator) else { return nil }
        let lines = String(decoding: data[..<split.lowerBound], as: UTF8.self).components(separatedBy: "\r\n")
        let statusParts = lines[0].split(separator: " ")
        guard statusParts.count >= 2, statusParts[0].hasPrefix("HTTP/1."), let status = Int(statusParts[1]) else {
            throw LabError("\(what): bad status line \(lines[0].debugDescription)")
        }
        var headers: [String: String] = [:]
        for line in lines.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        let rest = Array(data[split.upperBound...])
        if let length = headers["content-length"].flatMap(Int.init) {
            return rest.count >= length ? Answer(status: status, headers: headers, body: Array(rest.prefix(length))) : nil
        }
        if headers["transfer-encoding"]?.lowercased().contains("chunked") == true {
            return dechunk(rest).map { Answer(status: status, headers: headers, body: $0) }
        }
        return closed ? Answer(status: status, headers: headers, body: rest) : nil
    }

    /// The body of a chunked message once its last (empty) chunk arrived.
    private static func dechunk(_ bytes: [UInt8]) -> [UInt8]? {
        var body: [UInt8] = []
        var index = 0
        let crlf: [UInt8] = [13, 10]
        while true {
            guard let lineEnd = bytes[index...].firstRange(of: crlf) else { return nil }
            let sizeText = String(decoding: bytes[index..<lineEnd.lowerBound], as: UTF8.self).split(separator: ";").first ?? ""
            guard let size = Int(sizeText.trimmingCharacters(in: .whitespaces), radix: 16) else { return nil }
            let start = lineEnd.upperBound
            if size == 0 { return body }
            guard bytes.count >= start + size + 2 else { return nil }
            body += bytes[start..<start + size]
            index = start + size + 2
        }
    }
}
