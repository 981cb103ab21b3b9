import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import NIOSSL
import Synchronization

/// The host's HTTP client for plugins (SB_HOST_EXT_HTTP): UPnP descriptions, SOAP, GENA. Requests
/// run on the host's shared AsyncHTTPClient (or, with SB_HTTP_TLS_NO_VERIFY, on one that does not
/// check certificates); the answer is handed to the plugin on its executor. Everything a
/// generation started is cancelled when it is unloaded.
public final class PluginHTTP: Sendable {
    public struct Request: Sendable {
        public var method: String
        public var url: String
        public var headers: [(String, String)]
        public var body: [UInt8]
        public var timeout: Double
        public var maxResponseSize: Int
        /// SB_HTTP_TLS_NO_VERIFY: https without checking the certificate (self-signed devices).
        public var verifyCertificate = true

        public init(method: String, url: String, headers: [(String, String)], body: [UInt8], timeout: Double,
                    maxResponseSize: Int, verifyCertificate: Bool = true) {
            self.method = method
            self.url = url
            self.headers = headers
            self.body = body
            self.timeout = timeout
            self.maxResponseSize = maxResponseSize
            self.verifyCertificate = verifyCertificate
        }
    }

    public struct Response: Sendable {
        public var status: Int32
        public var httpStatus: Int32 = 0
        public var headers: [(String, String)] = []
        public var body: [UInt8] = []
        public var error: String? = nil
    }

    public static let defaultTimeout = 10.0
    public static let defaultMaxResponse = 4 << 20

    /// The client for SB_HTTP_TLS_NO_VERIFY requests: HTTPClient.shared's configuration, except that
    /// certificates are not verified. Created on first use and kept for the life of the process,
    /// like HTTPClient.shared: a global is never deinitialised, so AsyncHTTPClient's "not shut down
    /// before deinit" check cannot fire, and nothing shuts it down under requests still running
    /// (plugins of any generation may use it until the process exits).
    static let unverifiedClient: HTTPClient = {
        var configuration = HTTPClient.Configuration.singletonConfiguration
        var tls = configuration.tlsConfiguration ?? TLSConfiguration.makeClientConfiguration()
        tls.certificateVerification = .none
        configuration.tlsConfiguration = tls
        return HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
    }()

    /// Requests in flight by id; nil while one is being started (its id already taken).
    private let tasks = Mutex<[UInt64: HTTPClient.Task<HTTPClient.Response>?]>([:])
    private let nextID = Atomic<UInt64>(1)

    public init() {}

    /// Starts `request`; `done` runs exactly once unless `cancel` came first.
    ///
    /// The request runs on AsyncHTTPClient's event-loop API and `done` is called from the event
    /// loop that read the answer. The async API (`execute(_: HTTPClientRequest)` in a Swift Task,
    /// then `body.collect`) moved each request between the cooperative pool and the event loop
    /// several times, and an announcement's SOAP calls run one after another, so those hops added
    /// up (the sonos overhead benchmark measures a request through here beside curl's).
    public func start(_ request: Request, done: @escaping @Sendable (Response) -> Void) -> UInt64 {
        let id = nextID.wrappingAdd(1, ordering: .relaxed).oldValue
        // Registered before it starts, so a fast answer (or an early failure) finds its entry.
        tasks.withLock { $0[id] = .some(nil) }
        let client = request.verifyCertificate ? HTTPClient.shared : PluginHTTP.unverifiedClient
        let future: EventLoopFuture<HTTPClient.Response>
        do {
            let clientRequest = try PluginHTTP.clientRequest(request)
            let task = client.execute(request: clientRequest,
                                      delegate: ResponseAccumulator(request: clientRequest, maxBodySize: request.maxResponseSize),
                                      deadline: .now() + .milliseconds(Int64(request.timeout * 1000)))
            future = task.futureResult
            // Cancelled meanwhile: the entry is gone, so cancel the request now.
            let kept = tasks.withLock { tasks -> Bool in
                guard tasks[id] != nil else { return false }
                tasks[id] = .some(task)
                return true
            }
            if !kept { task.cancel() }
        } catch {
            future = client.eventLoopGroup.any().makeFailedFuture(error)
        }
        future.whenComplete { [weak self] result in
            guard let self, self.tasks.withLock({ $0.removeValue(forKey: id) }) != nil else { return }
            done(PluginHTTP.response(result, for: request))
        }
        return id
    }

    public func cancel(_ id: UInt64) {
        tasks.withLock { $0.removeValue(forKey: id) }??.cancel()
    }

    public func cancelAll() {
        for t in tasks.withLock({ t in defer { t.removeAll() }; return Array(t.values) }) { t?.cancel() }
    }

    private static func clientRequest(_ r: Request) throws -> HTTPClient.Request {
        var headers = HTTPHeaders()
        for (name, value) in r.headers { headers.add(name: name, value: value) }
        // One connection per request unless the plugin asks otherwise: UPnP stacks (libupnp in
        // gmediarender, many TVs) close a connection after each answer, and a pooled connection
        // they already closed fails the next POST ("I/O on closed channel"), which is not retried.
        if !headers.contains(name: "Connection") { headers.add(name: "Connection", value: "close") }
        return try HTTPClient.Request(url: r.url, method: HTTPMethod(rawValue: r.method), headers: headers,
                                      body: r.body.isEmpty ? nil : .bytes(r.body))
    }

    private static func response(_ result: Result<HTTPClient.Response, any Error>, for r: Request) -> Response {
        switch result {
        case .success(let response):
            return Response(status: 0, httpStatus: Int32(response.status.code),
                            headers: response.headers.map { ($0.name, $0.value) },
                            body: response.body.map { Array($0.readableBytesView) } ?? [])
        case .failure(let error as ResponseAccumulator.ResponseTooBigError):
            _ = error
            return Response(status: -3, error: "the response is larger than \(r.maxResponseSize) bytes")
        case .failure(let error as HTTPClientError) where error == .deadlineExceeded || error == .readTimeout || error == .connectTimeout:
            return Response(status: -4, error: "no answer from \(r.url) within \(r.timeout) s")
        case .failure(let error):
            return Response(status: -3, error: "\(r.method) \(r.url) failed: \(error)")
        }
    }
}
