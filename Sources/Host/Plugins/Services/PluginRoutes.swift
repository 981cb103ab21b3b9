import Foundation
import Hummingbird
import Logging
import NIOCore
import PluginAPI
import Synchronization

/// Where plugins' HTTP callback routes live: the daemon's media server.
public protocol PluginRouteHost: Sendable {
    var routes: PluginRoutes { get }
    /// "http://host:port" of the server, as the speakers reach it by default.
    func callbackBaseURL() throws -> String
}

/// HTTP callback routes of plugins (SB_HOST_EXT_ROUTES) on the daemon's media server: UPnP GENA
/// NOTIFY and anything else a device calls back with.
///
/// A plugin registers `<path>`; the server answers `/plugin/<plugin id>/<path>` for any method by
/// calling the plugin's function on its executor with a copy of the request, and answers with the
/// status it returns and an empty body. Paths are matched exactly, as raw bytes (no percent
/// decoding); the query is not part of the match.
///
/// Across a hot reload a route stays reachable: the new generation adds the same path and takes it
/// over from the old one (so a speaker's GENA subscription URL stays valid); unloading the old
/// generation then removes only what it still owns. A `remove` by an older route id never removes
/// a newer registration.
public final class PluginRoutes: MediaSideRoutes {
    /// The plugin's function and its `user`, called on the plugin's own executor only.
    struct Callback: @unchecked Sendable {
        // @unchecked: plugin-owned pointers we never dereference; they are only passed back to
        // the plugin's function on the plugin's serial executor.
        let fn: sb_route_fn
        let user: UnsafeMutableRawPointer?
    }

    struct Registration: Sendable {
        let id: UInt64
        let pluginID: String
        let generation: Int
        let owner: ObjectIdentifier
        let path: String
        let callback: Callback
        let executor: PluginExecutor
        let logger: Logger
    }

    public static let prefix = "/plugin/"
    static let maxPathLength = 200
    static let maxBody = 256 << 10
    /// A request the plugin's executor has not answered within this long gets 503.
    static let answerTimeout = 5.0

    private struct State {
        /// "<plugin id>/<path>" → the registration serving it.
        var byKey: [String: Registration] = [:]
        var keyByID: [UInt64: String] = [:]
    }

    private let state = Mutex(State())
    private let nextID = Atomic<UInt64>(1)
    /// Requests being read or answered now, and those answered 503 because too many were.
    private let inFlight = Atomic<Int>(0)
    private let busyRefusals = Atomic<Int>(0)
    /// Callback requests handled at once (`media.max_callback_requests`). Each may buffer a body
    /// of up to `maxBody` and waits for a plugin's executor, so this bounds both memory and the
    /// work a flood of NOTIFYs can queue; more are answered 503 at once (GENA senders retry).
    public let maxConcurrentRequests: Int

    public init(maxConcurrentRequests: Int = 32) {
        self.maxConcurrentRequests = max(1, maxConcurrentRequests)
    }

    /// Requests answered 503 because `maxConcurrentRequests` were being handled.
    public var refusedBusy: Int { busyRefusals.load(ordering: .relaxed) }

    /// Why `path` cannot be a route, or nil. [A-Za-z0-9._~/-], 1…200 characters, no empty, "." or
    /// ".." segments; one leading "/" is allowed and ignored.
    static func pathProblem(_ path: String) -> String? {
        let p = path.hasPrefix("/") ? String(path.dropFirst()) : path
        if p.isEmpty { return "the path is empty" }
        if p.utf8.count > maxPathLength { return "the path is longer than \(maxPathLength) characters" }
        let allowed = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._~/-".utf8)
        if !p.utf8.allSatisfy(allowed.contains) { return "the path may only contain A-Z a-z 0-9 . _ ~ / -" }
        for segment in p.split(separator: "/", omittingEmptySubsequences: false) where segment.isEmpty || segment == "." || segment == ".." {
            return "the path has an empty, \".\" or \"..\" segment"
        }
        return nil
    }

    /// "/" stripped from the front: the form routes are stored and reported in.
    static func normalized(_ path: String) -> String { path.hasPrefix("/") ? String(path.dropFirst()) : path }

    enum AddOutcome: Equatable {
        case added(UInt64)
        /// A newer generation of the plugin serves this path.
        case heldByNewer(generation: Int)
        /// `admit` said no (the instance is being unloaded).
        case refused
    }

    func add(pluginID: String, generation: Int, owner: ObjectIdentifier, path: String, callback: Callback,
             executor: PluginExecutor, logger: Logger, admit: () -> Bool = { true }) -> AddOutcome {
        let path = Self.normalized(path)
        let key = pluginID + "/" + path
        let id = nextID.wrappingAdd(1, ordering: .relaxed).oldValue
        return state.withLock { s in
            // Under the lock: an unload that marks the instance first and then calls `removeAll`
            // cannot miss a route added meanwhile.
            guard admit() else { return .refused }
            if let current = s.byKey[key] {
                if current.generation > generation { return .heldByNewer(generation: current.generation) }
                s.keyByID.removeValue(forKey: current.id)
            }
            s.byKey[key] = Registration(id: id, pluginID: pluginID, generation: generation, owner: owner, path: path,
                                        callback: callback, executor: executor, logger: logger)
            s.keyByID[id] = key
            return .added(id)
        }
    }

    /// Removes route `id` if `owner` registered it and it still serves its path.
    func remove(_ id: UInt64, owner: ObjectIdentifier) {
        state.withLock { s in
            guard let key = s.keyByID[id], s.byKey[key]?.owner == owner else { return }
            s.keyByID.removeValue(forKey: id)
            s.byKey.removeValue(forKey: key)
        }
    }

    /// Removes every route `owner` (one instance) still serves.
    func removeAll(owner: ObjectIdentifier) {
        state.withLock { s in
            for (key, registration) in s.byKey where registration.owner == owner {
                s.byKey.removeValue(forKey: key)
                s.keyByID.removeValue(forKey: registration.id)
            }
        }
    }

    func isCurrent(_ id: UInt64) -> Bool { state.withLock { $0.keyByID[id] != nil } }

    func registration(forKey key: String) -> Registration? { state.withLock { $0.byKey[key] } }

    /// The paths served now, "<plugin id>/<path>" (for tests and logs).
    var keys: [String] { state.withLock { $0.byKey.keys.sorted() } }

    // MARK: serving

    /// A request copied out of the server, ready to hand to a plugin.
    struct Incoming: Sendable {
        var method: String
        /// The plugin's path plus "?query" when there was one.
        var path: String
        var headers: [(String, String)]
        var body: [UInt8]
        /// The peer's IP, nil when the server did not know it.
        var remoteAddress: String? = nil
    }

    enum Outcome: Equatable {
        case status(Int)
        /// The registration was replaced or removed before the plugin's executor got to it.
        case gone
        case timedOut
    }

    /// True for targets this table answers ("/plugin/…").
    public func handles(_ target: String) -> Bool { target.hasPrefix(Self.prefix) }

    /// Answers a request to "/plugin/…" (any method).
    public func respond(to request: Request, remoteAddress: String?, logger: Logger) async -> Response {
        let target = request.head.path ?? ""
        let parts = target.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false)
        let key = String(parts[0].dropFirst(Self.prefix.count))
        let query = parts.count > 1 ? "?" + parts[1] : ""
        guard registration(forKey: key) != nil else { return Self.empty(.notFound) }
        // Counted before the body is read: the cap bounds the bodies buffered at once too.
        guard inFlight.wrappingAdd(1, ordering: .relaxed).newValue <= maxConcurrentRequests else {
            inFlight.wrappingSubtract(1, ordering: .relaxed)
            if busyRefusals.wrappingAdd(1, ordering: .relaxed).oldValue % 100 == 0 {
                logger.warning("plugin routes: \(maxConcurrentRequests) callback requests in progress (media.max_callback_requests); answering 503 to more (\(refusedBusy) so far)")
            }
            return Self.empty(.serviceUnavailable)
        }
        defer { inFlight.wrappingSubtract(1, ordering: .relaxed) }
        if let length = request.headers[.contentLength].flatMap({ Int($0) }), length > Self.maxBody {
            return Self.empty(.contentTooLarge)
        }
        var body: [UInt8] = []
        do {
            for try await chunk in request.body {
                guard body.count + chunk.readableBytes <= Self.maxBody else { return Self.empty(.contentTooLarge) }
                body.append(contentsOf: chunk.readableBytesView)
            }
        } catch {
            return Self.empty(.badRequest)
        }
        let headers = request.headers.map { ($0.name.canonicalName, $0.value) }
        // A registration replaced by a newer generation while we waited is served by the newer one.
        for _ in 0..<3 {
            guard let registration = registration(forKey: key) else { return Self.empty(.notFound) }
            let incoming = Incoming(method: request.method.rawValue, path: registration.path + query, headers: headers, body: body,
                                    remoteAddress: remoteAddress)
            switch await call(registration, incoming) {
            case .status(let code):
                logger.debug("plugin routes: \(incoming.method) \(target) → \(code)")
                return Self.empty(HTTPResponse.Status(code: code))
            case .timedOut:
                registration.logger.warning("plugin \(registration.pluginID)#\(registration.generation): route \(registration.path) did not answer \(incoming.method) within \(Self.answerTimeout) s; answered 503")
                return Self.empty(.serviceUnavailable)
            case .gone:
                continue
            }
        }
        return Self.empty(.serviceUnavailable)
    }

    /// Runs the plugin's function on its executor; 503 (`timedOut`) when it has not answered in
    /// `answerTimeout` (a call that has not started by then never runs).
    func call(_ registration: Registration, _ incoming: Incoming) async -> Outcome {
        await withCheckedContinuation { (continuation: CheckedContinuation<Outcome, Never>) in
            let answer = Answer(continuation)
            registration.executor.async { [self] in
                guard answer.start() else { return }
                // Unloaded or replaced since it was looked up: its instance may be gone.
                guard isCurrent(registration.id) else { return answer.finish(.gone) }
                let status = Self.invoke(registration.callback, incoming)
                answer.finish(.status((200...599).contains(Int(status)) ? Int(status) : 500))
            }
            DispatchQueue.global().asyncAfter(deadline: .now() + Self.answerTimeout) { answer.finish(.timedOut) }
        }
    }

    /// One request's answer: resumed once, by the plugin or by the deadline, whichever is first.
    private final class Answer: Sendable {
        private enum Phase { case waiting, running, answered }
        private let phase = Mutex(Phase.waiting)
        private let continuation: CheckedContinuation<Outcome, Never>
        init(_ continuation: CheckedContinuation<Outcome, Never>) { self.continuation = continuation }

        /// False when the deadline has passed already: the plugin is then not called at all.
        func start() -> Bool {
            phase.withLock { p in
                guard p == .waiting else { return false }
                p = .running
                return true
            }
        }

        func finish(_ outcome: Outcome) {
            let first = phase.withLock { p in
                guard p != .answered else { return false }
                p = .answered
                return true
            }
            if first { continuation.resume(returning: outcome) }
        }
    }

    /// Builds the C view of the request for the duration of one call (inline, and in the plugin host).
    static func invoke(_ callback: Callback, _ r: Incoming) -> Int32 {
        let names = r.headers.map { strdup($0.0) }, values = r.headers.map { strdup($0.1) }
        let method = strdup(r.method), path = strdup(r.path)
        let remote = r.remoteAddress.map { strdup($0) } ?? nil
        defer {
            for p in names + values { free(p) }
            free(method)
            free(path)
            free(remote)
        }
        var headers = (0..<names.count).map { sb_http_header(name: names[$0], value: values[$0]) }
        return r.body.withUnsafeBytes { body in
            headers.withUnsafeMutableBufferPointer { h in
                var c = sb_route_request()
                c.struct_size = UInt32(MemoryLayout<sb_route_request>.size)
                c.method = UnsafePointer(method)
                c.path = UnsafePointer(path)
                c.headers = UnsafePointer(h.baseAddress)
                c.header_count = h.count
                c.body = body.baseAddress
                c.body_size = body.count
                c.remote_address = UnsafePointer(remote)
                return callback.fn(callback.user, &c)
            }
        }
    }

    private static func empty(_ status: HTTPResponse.Status) -> Response {
        var fields = HTTPFields()
        fields[.contentLength] = "0"
        fields[.cacheControl] = "no-store"
        return Response(status: status, headers: fields, body: ResponseBody())
    }
}
