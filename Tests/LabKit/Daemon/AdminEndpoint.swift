import Foundation

/// A daemon's admin listener (`/metrics`, `/healthz`, the status page). DaemonProcess starts every daemon with
/// `SPEAKERBRIDGE_ADMIN_PORT=0`, so daemons started side by side never fight over the default 8180;
/// the port the kernel chose is in the daemon's "admin: listening on http://127.0.0.1:PORT" line.
public struct AdminEndpoint: Sendable {
    public struct Answer: Sendable {
        public let status: Int
        /// Header names lower-cased.
        public let headers: [String: String]
        public let body: String
    }

    public let port: Int

    public init(port: Int) { self.port = port }

    /// The port from the daemon's log line, once it is there.
    public static func of(_ daemon: DaemonUnderTest, timeout: Double = 15) throws -> AdminEndpoint {
        let marker = "admin: listening on http://127.0.0.1:"
        var port: Int?
        _ = waitUntil(timeout: timeout, interval: 0.05) {
            port = daemon.log().split(separator: "\n").last { $0.contains(marker) }
                .flatMap { Int($0.components(separatedBy: marker)[1].prefix { $0.isNumber }) }
            return port != nil
        }
        guard let port else { throw LabError("no \"\(marker)…\" in the daemon's log after \(timeout) s\n\(daemon.log())") }
        return AdminEndpoint(port: port)
    }

    /// One request on its own connection (`Connection: close`), read to the end. `headers` are
    /// sent as given, after `Host` (`host`: another Host, or nil for none); a `body` gets its
    /// Content-Length. `from`: the loopback address the connection comes from (another client).
    public func request(_ method: String = "GET", _ path: String, headers: [(String, String)] = [], body: [UInt8]? = nil,
                        host: String? = "", from source: String? = nil, timeout: Double = 10) throws -> Answer {
        let connection = try LoopbackConnection(port: port, from: source)
        var head = "\(method) \(path) HTTP/1.1\r\n"
        if let host { head += "Host: \(host.isEmpty ? "127.0.0.1:\(port)" : host)\r\n" }
        for (name, value) in headers { head += "\(name): \(value)\r\n" }
        if let body { head += "Content-Length: \(body.count)\r\n" }
        connection.send(head + "Connection: close\r\n\r\n")
        if let body { connection.send(body) }
        let (bytes, closed) = connection.readToEnd(timeout: timeout)
        guard closed else { throw LabError("\(method) \(path): no complete answer within \(timeout) s") }
        return try Self.parse(bytes, method: method, path: path)
    }

    public func get(_ path: String, from source: String? = nil, timeout: Double = 10) throws -> Answer {
        try request("GET", path, from: source, timeout: timeout)
    }

    static func parse(_ bytes: [UInt8], method: String, path: String) throws -> Answer {
        let text = String(decoding: bytes, as: UTF8.self)
        guard let split = text.range(of: "\r\n\r\n") else { throw LabError("\(method) \(path): no response head in \(text.debugDescription)") }
        let lines = text[..<split.lowerBound].components(separatedBy: "\r\n")
        let statusParts = lines[0].split(separator: " ")
        guard statusParts.count >= 2, statusParts[0].hasPrefix("HTTP/1."), let status = Int(statusParts[1]) else {
            throw LabError("\(method) \(path): bad status line \(lines[0].debugDescription)")
        }
        var headers: [String: String] = [:]
        for line in lines.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        return Answer(status: status, headers: headers, body: String(text[split.upperBound...]))
    }
}
