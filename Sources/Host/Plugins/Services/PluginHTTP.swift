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
final class PluginHTTP: Sendable {
    struct Request: Sendable {
        var method: String
        var url: String
        var headers: [(String, String)]
        var body: [UInt8]
        var timeout: Double
        var maxResponseSize: Int
        /// SB_HTTP_TLS_NO_VERIFY: https without checking the certificate (self-signed devices).
        var verifyCertificate = true
    }

    struct Response: Sendable {
        var status: Int32
        var httpStatus: Int32 = 0
        var headers: [(String, String)] = []
        var body: [UInt8] = []
        var error: String? = nil
    }

    static let defaultTimeout = 10.0
    static let defaultMaxResponse = 4 << 20

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

    private let tasks = Mutex<[UInt64: Task<Void, Never>]>([:])
    private let nextID = Atomic<UInt64>(1)

    /// Starts `request`; `done` runs exactly once unless `cancel` came first.
    func start(_ request: Request, done: @escaping @Sendable (Response) -> Void) -> UInt64 {
        let id = nextID.wrappingAdd(1, ordering: .relaxed).oldValue
        // The task is registered under the lock it later takes to remove itself, so it cannot
        // finish (and find nothing to remove, dropping `done`) before it is in the table — which
        // happened on a loaded machine when a fast answer beat the insertion.
        tasks.withLock { tasks in
            tasks[id] = Task { [weak self] in
                let response = await PluginHTTP.perform(request)
                guard let self, self.tasks.withLock({ $0.removeValue(forKey: id) }) != nil, !Task.isCancelled else { return }
                done(response)
            }
        }
        return id
    }

    func cancel(_ id: UInt64) {
        tasks.withLock { $0.removeValue(forKey: id) }?.cancel()
    }

    func cancelAll() {
        for t in tasks.withLock({ t in defer { t.removeAll() }; return Array(t.values) }) { t.cancel() }
    }

    private static func perform(_ r: Request) async -> Response {
        var request = HTTPClientRequest(url: r.url)
        request.method = HTTPMethod(rawValue: r.method)
        for (name, value) in r.headers { request.headers.add(name: name, value: value) }
        // One connection per request unless the plugin asks otherwise: UPnP stacks (libupnp in
        // gmediarender, many TVs) close a connection after each answer, and a pooled connection
        // they already closed fails the next POST ("I/O on closed channel"), which is not retried.
        if !request.headers.contains(name: "Connection") { request.headers.add(name: "Connection", value: "close") }
        if !r.body.isEmpty { request.body = .bytes(ByteBuffer(bytes: r.body)) }
        do {
            let client = r.verifyCertificate ? HTTPClient.shared : PluginHTTP.unverifiedClient
            let response = try await client.execute(request, timeout: .milliseconds(Int64(r.timeout * 1000)))
            let body = try await response.body.collect(upTo: r.maxResponseSize)
            return Response(status: 0, httpStatus: Int32(response.status.code),
                            headers: response.headers.map { ($0.name, $0.value) },
                            body: Array(body.readableBytesView))
        } catch let error as NIOTooManyBytesError {
            _ = error
            return Response(status: -3, error: "the response is larger than \(r.maxResponseSize) bytes")
        } catch let error as HTTPClientError where error == .deadlineExceeded || error == .readTimeout || error == .connectTimeout {
            return Response(status: -4, error: "no answer from \(r.url) within \(r.timeout) s")
        } catch {
            return Response(status: -3, error: "\(r.method) \(r.url) failed: \(error)")
        }
    }
}
