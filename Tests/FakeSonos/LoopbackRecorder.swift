import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization

/// A small HTTP server on 127.0.0.1 for tests that play the controller side: it records every
/// request (GENA NOTIFYs, clip fetches) and answers from fixed routes (200 with an empty body
/// otherwise).
public final class LoopbackRecorder: Sendable {
    public struct Request: Sendable {
        public let method: String
        public let path: String
        /// Header names lower-cased; repeated headers joined with ", ".
        public let headers: [String: String]
        public let body: Data
        public var text: String { String(decoding: body, as: UTF8.self) }
    }

    public struct Route: Sendable {
        public let status: Int
        public let contentType: String
        public let body: Data
        public init(status: Int = 200, contentType: String, body: Data) {
            self.status = status
            self.contentType = contentType
            self.body = body
        }
    }

    private let group: MultiThreadedEventLoopGroup
    private let server: PlayerHTTPServer
    private let log: RecorderLog
    public let port: Int

    private init(group: MultiThreadedEventLoopGroup, server: PlayerHTTPServer, log: RecorderLog, port: Int) {
        self.group = group
        self.server = server
        self.log = log
        self.port = port
    }

    public static func start(routes: [String: Route] = [:]) async throws -> LoopbackRecorder {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let box = RecorderLog()
        let server = PlayerHTTPServer(group: group) { request in
            var headers: [String: String] = [:]
            for (name, value) in request.headers {
                let key = name.lowercased()
                headers[key] = headers[key].map { "\($0), \(value)" } ?? value
            }
            box.append(Request(method: request.method.rawValue, path: request.path, headers: headers, body: request.body))
            guard let route = routes[request.path] else { return .status(.ok) }
            var response = HTTPResponse(status: .init(statusCode: route.status), body: route.body)
            response.headers.add(name: "Content-Type", value: route.contentType)
            return response
        }
        let port = try await server.start()
        return LoopbackRecorder(group: group, server: server, log: box, port: port)
    }

    public func url(_ path: String) -> String { "http://127.0.0.1:\(port)\(path)" }

    public var requests: [Request] { log.entries.withLock { $0 } }

    public func requests(method: String) -> [Request] { requests.filter { $0.method == method } }

    /// Polls until `count` requests match, or the timeout passes; returns the matches.
    public func waitFor(_ count: Int = 1, timeout: TimeInterval = 5, where match: (Request) -> Bool) async -> [Request] {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            let found = requests.filter(match)
            if found.count >= count { return found }
            try? await Task.sleep(for: .milliseconds(20))
        }
        return requests.filter(match)
    }

    public func stop() async {
        await server.stop()
        try? await group.shutdownGracefully()
    }
}

private final class RecorderLog: Sendable {
    let entries = Mutex<[LoopbackRecorder.Request]>([])
    func append(_ r: LoopbackRecorder.Request) { entries.withLock { $0.append(r) } }
}
