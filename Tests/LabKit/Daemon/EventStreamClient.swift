import Foundation

/// A status page's event stream (`GET /api/events` on the admin listener) read the way a browser's
/// EventSource reads it: the chunked body taken apart into events (`event:`, `data:` lines joined
/// by "\n", `:` comments counted). Blocking; the test polls it.
public final class EventStreamClient {
    public struct Event {
        /// "message" unless the event names itself (`ready`).
        public let name: String
        public let data: String
        /// `data` parsed: `{"topic","payload","retain"}` for a message.
        public var json: [String: Any] {
            (try? JSONSerialization.jsonObject(with: Data(data.utf8), options: [.fragmentsAllowed])) as? [String: Any] ?? [:]
        }
        public var topic: String { json["topic"] as? String ?? "" }
        /// The payload as an object (nil when it is a string or absent).
        public var payload: [String: Any]? { json["payload"] as? [String: Any] }
        public var payloadText: String? { json["payload"] as? String }
    }

    public let status: Int
    /// Header names lower-cased.
    public let headers: [String: String]
    /// The whole body when the answer was not a stream (an error).
    public private(set) var errorBody = ""
    public private(set) var events: [Event] = []
    public private(set) var comments: [String] = []
    /// The server closed the connection (the stream ended).
    public private(set) var closed = false
    /// Why the body could not be read on (a broken chunk), if that ended it.
    public private(set) var problem: String?

    private let connection: LoopbackConnection
    private var chunked: [UInt8] = []
    private var body: [UInt8] = []

    /// Opens the stream and reads its response head.
    public init(_ admin: AdminEndpoint, path: String = "/api/events", headers extra: [(String, String)] = [],
                timeout: Double = 10) throws {
        connection = try LoopbackConnection(port: admin.port)
        var head = "GET \(path) HTTP/1.1\r\nHost: 127.0.0.1:\(admin.port)\r\nAccept: text/event-stream\r\n"
        for (name, value) in extra { head += "\(name): \(value)\r\n" }
        connection.send(head + "\r\n")
        var raw: [UInt8] = []
        let deadline = Date().addingTimeInterval(timeout)
        var split: Range<Int>?
        while split == nil {
            guard Date() < deadline else { throw LabError("GET \(path): no response head within \(timeout) s") }
            let (bytes, closed) = connection.readSome(timeout: 0.2)
            raw += bytes
            split = Self.find([0x0D, 0x0A, 0x0D, 0x0A], in: raw)
            if closed, split == nil { throw LabError("GET \(path): closed before a response head: \(String(decoding: raw, as: UTF8.self))") }
        }
        let headText = String(decoding: raw[..<split!.lowerBound], as: UTF8.self)
        let lines = headText.components(separatedBy: "\r\n")
        let statusParts = lines[0].split(separator: " ")
        guard statusParts.count >= 2, let status = Int(statusParts[1]) else { throw LabError("bad status line \(lines[0])") }
        self.status = status
        var fields: [String: String] = [:]
        for line in lines.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            fields[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        self.headers = fields
        chunked = Array(raw[split!.upperBound...])
        if status != 200 {
            let (rest, _) = connection.readToEnd(timeout: timeout)
            errorBody = String(decoding: chunked + rest, as: UTF8.self)
            closed = true
        } else {
            decode()
        }
    }

    /// Reads what has arrived, waiting up to `timeout` for something.
    public func poll(timeout: Double = 0.2) {
        guard !closed else { return }
        let (bytes, closed) = connection.readSome(timeout: timeout)
        chunked += bytes
        decode()
        if closed { self.closed = true }
    }

    /// Reads until nothing more arrives for `quiet` seconds (a reader that keeps up).
    public func drain(quiet: Double = 0.02) {
        while !closed {
            let before = chunked.count + body.count + events.count
            poll(timeout: quiet)
            if chunked.count + body.count + events.count == before { return }
        }
    }

    /// The first event (from index `from` on) matching `predicate`, reading until it comes.
    @discardableResult
    public func waitFor(from: Int = 0, timeout: Double = 15, _ what: String = "event",
                        _ predicate: (Event) -> Bool) throws -> Event {
        let deadline = Date().addingTimeInterval(timeout)
        while true {
            if let found = events.dropFirst(from).first(where: predicate) { return found }
            guard !closed else { throw LabError("the stream ended without \(what)\(problem.map { " (\($0))" } ?? ""); \(events.count) events: \(summary)") }
            guard Date() < deadline else { throw LabError("no \(what) within \(timeout) s; \(events.count) events: \(summary)") }
            poll()
        }
    }

    /// The events up to and including `ready`.
    public func replay(timeout: Double = 15) throws -> [Event] {
        let ready = try waitFor(timeout: timeout, "the ready event") { $0.name == "ready" }
        _ = ready
        return Array(events.prefix { $0.name != "ready" })
    }

    /// Waits until the server closes the stream.
    public func waitForEnd(timeout: Double) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while !closed, Date() < deadline { poll() }
        return closed
    }

    /// Topics of the events so far, for failure messages.
    public var summary: String {
        events.suffix(30).map { $0.name == "message" ? $0.topic : "[\($0.name)]" }.joined(separator: ", ")
    }

    /// Takes complete chunks out of `chunked` into `body`, then complete events out of `body`.
    private func decode() {
        while let lineEnd = Self.find([0x0D, 0x0A], in: chunked) {
            let sizeText = String(decoding: chunked[..<lineEnd.lowerBound], as: UTF8.self)
            guard let size = Int(sizeText.split(separator: ";").first ?? "", radix: 16) else {
                problem = "not a chunk size: \(sizeText.prefix(80).debugDescription)"
                closed = true
                return
            }
            let start = lineEnd.upperBound
            if size == 0 {
                closed = true
                chunked.removeAll()
                break
            }
            guard chunked.count >= start + size + 2 else { break }
            body += chunked[start..<(start + size)]
            chunked.removeFirst(start + size + 2)
        }
        while let end = Self.find([0x0A, 0x0A], in: body) {
            let text = String(decoding: body[..<end.lowerBound], as: UTF8.self)
            body.removeFirst(end.upperBound)
            var name = "message"
            var data: [String] = []
            var comment: String?
            for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
                if line.hasPrefix(":") { comment = String(line.dropFirst().drop { $0 == " " }) }
                else if line.hasPrefix("event:") { name = String(line.dropFirst(6).drop { $0 == " " }) }
                else if line.hasPrefix("data:") {
                    var value = line.dropFirst(5)
                    if value.first == " " { value = value.dropFirst() }
                    data.append(String(value))
                }
            }
            if data.isEmpty {
                if let comment { comments.append(comment) }
            } else {
                events.append(Event(name: name, data: data.joined(separator: "\n")))
            }
        }
    }

    private static func find(_ needle: [UInt8], in haystack: [UInt8]) -> Range<Int>? {
        guard haystack.count >= needle.count else { return nil }
        var i = 0
        while i <= haystack.count - needle.count {
            if haystack[i] == needle[0], Array(haystack[i..<(i + needle.count)]) == needle { return i..<(i + needle.count) }
            i += 1
        }
        return nil
    }
}
