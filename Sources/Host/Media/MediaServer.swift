import Foundation
import Hummingbird
import HummingbirdCore
import Logging
import ServiceLifecycle
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

public struct MediaServerError: Error, CustomStringConvertible {
    public let description: String
}

/// The daemon's HTTP server: speakers fetch clips from the `MediaStore` here.
///
/// It answers `GET`/`HEAD /media/<id>.<ext>`, and plugins' callback routes under `/plugin/` (any
/// method; see `MediaSideRoutes`), and nothing else. The request path is matched as raw
/// ASCII against that one shape and the id is only ever a key into the in-memory store, so there is
/// no file system behind it to escape into: `..`, percent-encodings and other paths are simply not
/// the shape, and get 404. There is no authentication (renderers cannot send any); a clip's id is
/// 128 random bits, so its URL is the capability.
///
/// A `Service`: it runs one Hummingbird `Application` per listen address (each a service group of
/// an HTTP server and its date cache), all on one port, and stops with the daemon's graceful
/// shutdown, after in-flight responses are written. The port can be 0; the one the kernel picked
/// is known once `waitUntilRunning()` returns.
///
/// Limits (`MediaConnectionLimits`): a connection cap over all listeners and one per remote
/// address, a header timeout and an
/// idle timeout per connection; plugins' callback routes have their own concurrency cap.
public final class MediaServer: Service, Sendable {
    public struct Settings: Sendable, Equatable {
        /// The addresses to listen on, all on the same port. The daemon's default is the IPv4
        /// address of `network.interface` plus 127.0.0.1 (see `MediaListenAddresses`); "0.0.0.0"
        /// is all IPv4 interfaces, "::" IPv6 too (unless net.ipv6.bindv6only is set).
        public var bindHosts: [String] = ["127.0.0.1"]
        /// 0: any free port (free on every listen address), reported by `boundPort`/`waitUntilRunning()`.
        public var port: Int = 0
        /// The host name or address speakers are told to use (behind NAT, in a container with port
        /// forwarding, or to use a DNS name). nil: worked out per speaker, see `baseURL`.
        public var advertisedHost: String? = nil
        /// Seconds between sweeps of expired clips (the store also sweeps on every put).
        public var sweepInterval: Double = 30
        public var limits = MediaConnectionLimits.Settings()

        /// The first listen address: the one named in logs and errors.
        public var bindHost: String { bindHosts.first ?? "127.0.0.1" }

        public init(bindHost: String = "127.0.0.1", port: Int = 0, advertisedHost: String? = nil,
                    sweepInterval: Double = 30, limits: MediaConnectionLimits.Settings = .init()) {
            self.init(bindHosts: [bindHost], port: port, advertisedHost: advertisedHost, sweepInterval: sweepInterval,
                      limits: limits)
        }

        public init(bindHosts: [String], port: Int = 0, advertisedHost: String? = nil,
                    sweepInterval: Double = 30, limits: MediaConnectionLimits.Settings = .init()) {
            var unique: [String] = []
            for host in bindHosts where !unique.contains(host) { unique.append(host) }
            self.bindHosts = unique.isEmpty ? ["127.0.0.1"] : unique
            self.port = port
            self.advertisedHost = advertisedHost
            self.sweepInterval = sweepInterval
            self.limits = limits
        }
    }

    private enum Phase {
        case starting
        case running(port: Int)
        case stopped(String)
    }

    private struct State {
        var phase = Phase.starting
        /// Listeners up so far (the server runs once all are).
        var listening = 0
    }

    public let settings: Settings
    public let store: MediaStore
    /// Plugins' HTTP callback routes (UPnP GENA NOTIFY), served under `/plugin/`; none when nil.
    public let routes: (any MediaSideRoutes)?
    public let limits: MediaConnectionLimits
    private let logger: Logger
    private let state = Mutex(State())
    /// Opened with the port once every listener is up; failed if the server stops before.
    public let running = Readiness<Int>()

    public init(settings: Settings, store: MediaStore, routes: (any MediaSideRoutes)? = nil, logger: Logger) {
        self.settings = settings
        self.store = store
        self.routes = routes
        self.limits = MediaConnectionLimits(settings: settings.limits, logger: logger)
        self.logger = logger
    }

    // MARK: Running

    public func run() async throws {
        // Hummingbird's own info lines ("Server started…", "Shutting down") repeat ours with less
        // context; its warnings and errors still come through.
        var httpLogger = logger
        if httpLogger.logLevel < .notice { httpLogger.logLevel = .notice }
        let hosts = settings.bindHosts
        let responder = MediaResponder(store: store, routes: routes, logger: logger)
        let limits = self.limits
        let server = HTTPServerBuilder { responder in GuardedHTTP1Channel(responder: responder, limits: limits) }
        var reservation: PortReservation?
        do {
            var port = settings.port
            if port == 0, hosts.count > 1 {
                // Port 0 on two addresses: pick one that is free on both, held until both listen.
                let reserved = try PortReservation(hosts: hosts)
                reservation = reserved
                port = reserved.port
            }
            let applications = hosts.map { host in
                Application(
                    responder: responder, server: server,
                    configuration: ApplicationConfiguration(address: .hostname(host, port: port)),
                    onServerRunning: { [weak self] channel in
                        // The kernel's choice when port was 0; the daemon builds clip URLs from it.
                        self?.didStart(host: host, port: channel.localAddress?.port ?? 0)
                    },
                    logger: httpLogger)
            }
            enum Part { case listener, sweeper, helper }
            try await withThrowingTaskGroup(of: Part.self) { group in
                // Graceful shutdown reaches the applications through the task-local the child tasks
                // inherit: they stop accepting, finish in-flight responses, then return.
                for application in applications { group.addTask { try await application.run(); return .listener } }
                group.addTask { await self.sweepPeriodically(); return .sweeper }
                if let reservation {
                    group.addTask {
                        _ = try? await self.waitUntilRunning()
                        reservation.release()
                        return .helper
                    }
                }
                // A listener that ends ends the server. In a graceful shutdown the other listeners
                // are finishing their responses too: wait for them; otherwise cut them off.
                var listening = applications.count
                while let part = try await group.next() {
                    guard part == .listener else { continue }
                    listening -= 1
                    if listening == 0 || !Task.isShuttingDownGracefully { break }
                }
                group.cancelAll()
            }
        } catch {
            reservation?.release()
            didStop("the media server failed: \(error)")
            throw MediaServerError(description: "media server on \(hosts.map { "\(Self.urlHost($0)):\(settings.port)" }.joined(separator: ", ")): \(error)")
        }
        reservation?.release()
        didStop("the media server has stopped")
        logger.info("media server: stopped")
    }

    /// The port the server listens on, nil before it runs (and after it stopped).
    public var boundPort: Int? {
        state.withLock { if case .running(let port) = $0.phase { port } else { nil } }
    }

    /// Waits until the server listens and returns its port; throws if it failed to start or has
    /// stopped, or when the waiting task is cancelled.
    public func waitUntilRunning() async throws -> Int {
        if case .stopped(let why) = state.withLock({ $0.phase }) { throw MediaServerError(description: why) }
        do {
            return try await running.wait()
        } catch let failure as Readiness<Int>.Failure {
            throw MediaServerError(description: failure.description)
        }
    }

    private func didStart(host: String, port: Int) {
        logger.info("media server: listening on \(Self.urlHost(host)):\(port)")
        let all = state.withLock { state in
            state.listening += 1
            guard state.listening == settings.bindHosts.count else { return false }
            state.phase = .running(port: port)
            return true
        }
        if all { running.open(port) }
    }

    private func didStop(_ why: String) {
        state.withLock { $0.phase = .stopped(why) }
        running.fail(why)
    }

    private func sweepPeriodically() async {
        let interval = Duration.milliseconds(Int64(max(settings.sweepInterval, 0.1) * 1000))
        // Cancelled by the task group when the server returns (graceful shutdown or failure).
        while (try? await Task.sleep(for: interval)) != nil {
            store.sweep()
        }
    }

    // MARK: URLs

    /// The URL speakers fetch `clip` from, e.g. "http://192.168.1.20:40123/media/3q2-….wav".
    /// Throws before the server listens when the port is 0 (there is no port to put in it yet).
    public func url(for clip: MediaClip, speakerAddress: String?) throws -> String {
        try baseURL(forSpeakerAddress: speakerAddress) + clip.path
    }

    /// "http://host:port" as a speaker at `speakerAddress` (a numeric IPv4/IPv6 address) can reach us.
    ///
    /// The host is, in order: the configured `advertisedHost`; the bind address when it is a
    /// specific one (the server answers nowhere else); the local address the kernel would send
    /// from to reach the speaker (`sourceAddress(toReach:)`), which picks the right interface on a
    /// multi-homed host; the address of the default interface (`NetworkInterfaces`); and finally 127.0.0.1.
    public func baseURL(forSpeakerAddress speakerAddress: String?) throws -> String {
        let port: Int
        if let bound = boundPort {
            port = bound
        } else if settings.port != 0 {
            port = settings.port
        } else {
            throw MediaServerError(description: "the media server is not listening yet (port 0 is chosen when it starts)")
        }
        return "http://\(Self.urlHost(advertisedHost(forSpeakerAddress: speakerAddress))):\(port)"
    }

    func advertisedHost(forSpeakerAddress speakerAddress: String?) -> String {
        if let advertised = settings.advertisedHost, !advertised.isEmpty { return advertised }
        let hosts = settings.bindHosts
        let wildcardV4 = hosts.contains { $0 == "0.0.0.0" || $0.isEmpty }
        let wildcardV6 = hosts.contains("::")
        if !wildcardV4 && !wildcardV6 {
            // Only the addresses we listen on are any use: the one on the route to the speaker if
            // it is one of them (127.0.0.1 for a speaker on this machine), else the first one
            // (the interface's address).
            if let speakerAddress, let source = Self.sourceAddress(toReach: speakerAddress), hosts.contains(source) {
                return source
            }
            return hosts.first { $0 != "127.0.0.1" } ?? hosts[0]
        }
        if let speakerAddress, let source = Self.sourceAddress(toReach: speakerAddress) {
            // An IPv6 source is only useful if we listen on IPv6.
            if !source.contains(":") || wildcardV6 { return source }
        }
        // The default interface by the one rule `network.interface` documents.
        return (try? NetworkInterfaces.resolve("", defaultInterface: ""))?.address ?? "127.0.0.1"
    }

    /// The local address the kernel would use as the source of packets to `address`, or nil when
    /// `address` is not a numeric IP or there is no route to it.
    ///
    /// A UDP socket is `connect()`ed to the address and asked for its name: for a datagram socket,
    /// connect only records the peer and makes the kernel choose the route and source address — no
    /// packet is sent (unlike TCP, there is no handshake). The port (9, discard) is never used.
    public static func sourceAddress(toReach address: String) -> String? {
        var storage = sockaddr_storage()
        var length: socklen_t
        var v4 = in_addr()
        var v6 = in6_addr()
        if inet_pton(AF_INET, address, &v4) == 1 {
            length = socklen_t(MemoryLayout<sockaddr_in>.size)
            withUnsafeMutableBytes(of: &storage) { raw in
                let sin = raw.baseAddress!.assumingMemoryBound(to: sockaddr_in.self)
                sin.pointee.sin_family = sa_family_t(AF_INET)
                sin.pointee.sin_port = in_port_t(9).bigEndian
                sin.pointee.sin_addr = v4
            }
        } else if inet_pton(AF_INET6, address, &v6) == 1 {
            length = socklen_t(MemoryLayout<sockaddr_in6>.size)
            withUnsafeMutableBytes(of: &storage) { raw in
                let sin6 = raw.baseAddress!.assumingMemoryBound(to: sockaddr_in6.self)
                sin6.pointee.sin6_family = sa_family_t(AF_INET6)
                sin6.pointee.sin6_port = in_port_t(9).bigEndian
                sin6.pointee.sin6_addr = v6
            }
        } else {
            return nil
        }
        let fd = socket(Int32(storage.ss_family), Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        let connected = withUnsafePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, length) }
        }
        guard connected == 0 else { return nil }
        var local = sockaddr_storage()
        var localLength = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let named = withUnsafeMutablePointer(to: &local) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &localLength) }
        }
        guard named == 0 else { return nil }
        return numericHost(&local)
    }

    private static func numericHost(_ storage: inout sockaddr_storage) -> String? {
        var buffer = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN) + 1)
        let ok: Bool = withUnsafeMutableBytes(of: &storage) { raw in
            switch Int32(raw.load(fromByteOffset: MemoryLayout<sockaddr_storage>.offset(of: \.ss_family)!,
                                  as: sa_family_t.self)) {
            case AF_INET:
                let sin = raw.baseAddress!.assumingMemoryBound(to: sockaddr_in.self)
                return inet_ntop(AF_INET, &sin.pointee.sin_addr, &buffer, socklen_t(buffer.count)) != nil
            case AF_INET6:
                let sin6 = raw.baseAddress!.assumingMemoryBound(to: sockaddr_in6.self)
                // A link-local source needs its zone in the URL; renderers rarely parse that, so
                // prefer the IPv4 fallback over handing out fe80:: addresses.
                if sin6.pointee.sin6_scope_id != 0 { return false }
                return inet_ntop(AF_INET6, &sin6.pointee.sin6_addr, &buffer, socklen_t(buffer.count)) != nil
            default:
                return false
            }
        }
        guard ok else { return nil }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// IPv6 literals are bracketed in URLs.
    static func urlHost(_ host: String) -> String {
        host.contains(":") && !host.hasPrefix("[") ? "[\(host)]" : host
    }
}

/// Hummingbird's basic context plus who asked (an IPv4-mapped IPv6 peer as plain IPv4), for the
/// debug log and the plugins' callback routes.
struct MediaRequestContext: RequestContext {
    var coreContext: CoreRequestContextStorage
    let remoteAddress: String?

    init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        remoteAddress = MediaConnectionLimits.hostKey(source.channel.remoteAddress)
    }
}

/// Answers requests from the store. Kept apart from the server so the rules are one pure function.
/// `/plugin/…` goes to the plugins' callback routes before anything else: they take any method
/// (GENA's NOTIFY), which is why this is a responder and not a router.
struct MediaResponder: HTTPResponder {
    typealias Context = MediaRequestContext
    let store: MediaStore
    var routes: (any MediaSideRoutes)? = nil
    let logger: Logger

    func respond(to request: Request, context: MediaRequestContext) async throws -> Response {
        let target = request.head.path ?? ""
        if let routes, routes.handles(target) { return await routes.respond(to: request, remoteAddress: context.remoteAddress, logger: logger) }
        let response = Self.answer(method: request.method, target: target, headers: request.headers, store: store)
        // Debug only: when a speaker will not play a clip, what it asked for is the first question.
        logger.debug("media server: \(request.method) \(target) range=\(request.headers[.range] ?? "-") → \(response.status.code)",
                     metadata: ["remote": "\(context.remoteAddress ?? "?")"])
        return response
    }

    static func answer(method: HTTPRequest.Method, target: String, headers: HTTPFields, store: MediaStore) -> Response {
        guard let (id, ext) = parse(target: target) else { return empty(.notFound) }
        guard method == .get || method == .head else {
            var response = empty(.methodNotAllowed)
            response.headers[.allow] = "GET, HEAD"
            return response
        }
        guard let clip = store.clip(id: id), clip.fileExtension == ext else { return empty(.notFound) }

        let length = clip.size
        var fields = HTTPFields()
        fields[.contentType] = clip.mime
        fields[.acceptRanges] = "bytes"
        // Each clip is played once and expires; no cache (a renderer's or a proxy's) should keep it.
        fields[.cacheControl] = "no-store"
        // The id names immutable bytes, so it is a strong validator; it lets If-Range work.
        let etag = "\"\(clip.id)\""
        fields[.eTag] = etag

        // Range applies to GET only (RFC 9110 §14.2): a HEAD gets the 200 headers of the whole clip.
        // With If-Range, the range is honoured only when it names this clip (no dates: we send no
        // Last-Modified, so a date cannot match).
        var rangeHeader = method == .get ? headers[.range] : nil
        if let ifRange = headers[.ifRange], ifRange.trimmingCharacters(in: .whitespaces) != etag {
            rangeHeader = nil
        }
        switch ByteRange.resolve(rangeHeader, length: length) {
        case .whole:
            fields[.contentLength] = String(length)
            return Response(status: .ok, headers: fields,
                            body: method == .head ? ResponseBody() : body(of: clip, range: 0..<length))
        case .partial(let range):
            fields[.contentLength] = String(range.count)
            fields[.contentRange] = ByteRange.contentRange(range, length: length)
            return Response(status: .partialContent, headers: fields,
                            body: body(of: clip, range: range.lowerBound..<(range.upperBound + 1)))
        case .unsatisfiable:
            var response = empty(.rangeNotSatisfiable)
            response.headers[.contentRange] = ByteRange.unsatisfiedContentRange(length: length)
            return response
        }
    }

    /// Slices of the stored bytes (`ByteBuffer` slices share the clip's storage: nothing is copied
    /// per request). Written one slice at a time, each after the previous one left the channel's
    /// buffer, so a connection holds at most about one slice more than the socket takes, and the
    /// idle timeout sees progress as long as the speaker reads.
    static let sliceSize = 64 << 10

    static func body(of clip: MediaClip, range: Range<Int>) -> ResponseBody {
        let stored = clip.body
        return ResponseBody(contentLength: range.count) { writer in
            var offset = range.lowerBound
            while offset < range.upperBound {
                let count = min(sliceSize, range.upperBound - offset)
                guard let slice = stored.getSlice(at: stored.readerIndex + offset, length: count) else { break }
                try await writer.write(slice)
                offset += count
            }
            try await writer.finish(nil)
        }
    }

    /// "/media/<id>.<ext>" (an optional query is ignored) → (id, ext); nil for anything else.
    /// Raw bytes, no percent-decoding: an encoded character can only make the path not match.
    static func parse(target: String) -> (id: String, ext: String)? {
        let path = target.utf8.split(separator: UInt8(ascii: "?"), maxSplits: 1, omittingEmptySubsequences: false).first ?? []
        let prefix = Array("/media/".utf8)
        guard path.count > prefix.count, path.starts(with: prefix) else { return nil }
        let name = path.dropFirst(prefix.count)
        guard let dot = name.lastIndex(of: UInt8(ascii: ".")) else { return nil }
        let id = name[..<dot]
        let ext = name[name.index(after: dot)...]
        func isIDByte(_ b: UInt8) -> Bool {
            (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5A) || (b >= 0x61 && b <= 0x7A)
                || b == UInt8(ascii: "-") || b == UInt8(ascii: "_")
        }
        guard (16...64).contains(id.count), id.allSatisfy(isIDByte),
              (1...8).contains(ext.count), ext.allSatisfy({ ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x61 && $0 <= 0x7A) })
        else { return nil }
        return (String(decoding: id, as: UTF8.self), String(decoding: ext, as: UTF8.self))
    }

    private static func empty(_ status: HTTPResponse.Status) -> Response {
        var fields = HTTPFields()
        fields[.contentLength] = "0"
        fields[.cacheControl] = "no-store"
        return Response(status: status, headers: fields, body: ResponseBody())
    }
}
