import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// One HTTP/1.1 request on its own TCP connection, to the browser's namespace or to our end of its
/// pair (the WebDriver calls, the test's own requests to the daemon's admin listener there).
/// Addresses are limited to 10.232.0.0/16 and loopback by LoopbackConnection, which carries it:
/// nothing here may leave through the machine's real interfaces.
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
        let connection = try LoopbackConnection(port: port, host: host)
        var head = "\(method) \(path) HTTP/1.1\r\nHost: \(host):\(port)\r\nConnection: close\r\n"
        for (name, value) in headers { head += "\(name): \(value)\r\n" }
        if let body { head += "Content-Length: \(body.count)\r\n" }
        head += "\r\n"
        guard connection.send(Array(head.utf8) + (body ?? [])) else {
            throw LabError("\(method) http://\(host):\(port)\(path): the connection closed while sending")
        }
        return try receive(connection, timeout: timeout, what: "\(method) http://\(host):\(port)\(path)")
    }

    private static func receive(_ connection: LoopbackConnection, timeout: Double, what: String) throws -> Answer {
        let deadline = Date().addingTimeInterval(timeout)
        var data: [UInt8] = []
        var closed = false
        while true {
            if let answer = try parse(data, closed: closed, what: what) { return answer }
            if closed { throw LabError("\(what): the connection closed before a whole response: \(String(decoding: data.prefix(500), as: UTF8.self).debugDescription)") }
            let left = deadline.timeIntervalSinceNow
            if left <= 0 { throw LabError("\(what): no whole response within \(timeout) s (have \(data.count) bytes)") }
            // At least 1 ms: a zero receive timeout would mean "wait for ever".
            let read = connection.readSome(timeout: max(left, 0.001))
            data += read.bytes
            closed = read.closed
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
