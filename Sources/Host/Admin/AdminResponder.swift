import Hummingbird
import HummingbirdCore

/// The admin listener's answers: `GET /metrics` (Prometheus text format) and `GET /healthz` (200
/// or 503 with the reasons), HEAD of either, 405 for another method on them; the status page's API
/// paths (`/api/...`) are handed to `PageAPI`; 404 for anything else.
/// The path is compared as raw bytes (a query string is ignored), so nothing else can match.
struct AdminResponder: HTTPResponder {
    typealias Context = BasicRequestContext
    let scrape: MetricsScrape
    /// The session's problems and the plugins' (the `health` request's two lists).
    let healthProblems: @Sendable () -> (session: [String], plugins: [String])
    let access: AdminAccess
    /// nil: no status page API (a listener built without one, as in unit tests).
    let page: PageAPI?

    func respond(to request: Request, context: BasicRequestContext) async throws -> Response {
        let target = request.head.path ?? ""
        let path = Self.path(of: target)
        if path.hasPrefix("/api/") {
            guard let page, let response = await page.respond(to: request, path: path) else {
                return Self.text(.notFound, "not found: \(path) is not an API path of this listener\n")
            }
            return response
        }
        return Self.answer(method: request.method, target: target, scrape: scrape, healthProblems: healthProblems)
    }

    enum Route { case metrics, healthz }

    /// The target without its query string.
    static func path(of target: String) -> Substring {
        target.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
    }

    static func route(_ target: String) -> Route? {
        switch path(of: target) {
        case "/metrics": return .metrics
        case "/healthz": return .healthz
        default: return nil
        }
    }

    static func answer(method: HTTPRequest.Method, target: String, scrape: MetricsScrape,
                       healthProblems: () -> (session: [String], plugins: [String])) -> Response {
        guard let route = route(target) else { return text(.notFound, "not found: this listener serves /metrics and /healthz\n") }
        guard method == .get || method == .head else {
            var response = text(.methodNotAllowed, "method not allowed: use GET\n")
            response.headers[.allow] = "GET, HEAD"
            return response
        }
        let response: Response
        switch route {
        case .metrics:
            response = text(.ok, scrape.render(), contentType: "text/plain; version=0.0.4; charset=utf-8")
        case .healthz:
            let (session, plugins) = healthProblems()
            // Only plugins are the problem: the daemon still relays, but is not healthy either.
            let verdict = session.isEmpty ? "degraded" : "unhealthy"
            let problems = session + plugins
            response = problems.isEmpty
                ? text(.ok, "healthy\n")
                : text(.serviceUnavailable, verdict + "\n" + problems.map { "- \($0)\n" }.joined())
        }
        guard method == .head else { return response }
        return Response(status: response.status, headers: response.headers, body: ResponseBody())
    }

    private static func text(_ status: HTTPResponse.Status, _ body: String, contentType: String = "text/plain; charset=utf-8") -> Response {
        text(status, Array(body.utf8), contentType: contentType)
    }

    private static func text(_ status: HTTPResponse.Status, _ bytes: [UInt8], contentType: String) -> Response {
        var fields = HTTPFields()
        fields[.contentType] = contentType
        fields[.contentLength] = String(bytes.count)
        fields[.cacheControl] = "no-store"
        return Response(status: status, headers: fields, body: ResponseBody(byteBuffer: ByteBuffer(bytes: bytes)))
    }
}
