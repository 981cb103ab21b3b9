import Hummingbird
import HummingbirdCore
import Logging
import NIOCore

/// The admin listener's answers: the status page (`/`, `/login`, `/logout`, `/assets/<file>`), its
/// API (`/api/...`, handed to `PageAPI`), `GET /metrics` (Prometheus text format) and
/// `GET /healthz` (200 or 503 with the reasons). A path is one of `AdminRoute`'s or 404; a method
/// the route does not take is 405; a client locked out by the sign-in throttle is 429; then
/// `AdminAccess` decides (403, 415, 401) before anything is read or done.
struct AdminResponder: HTTPResponder {
    typealias Context = AdminRequestContext
    let scrape: MetricsScrape
    /// The session's problems and the plugins' (the `health` request's two lists).
    let healthProblems: @Sendable () -> (session: [String], plugins: [String])
    let access: AdminAccess
    /// nil: no status page API (a listener built without one, as in unit tests).
    let page: PageAPI?
    let throttle: SignInThrottle
    let logger: Logger

    static let wrongTokenMessage = "That token is not right."

    func respond(to request: Request, context: AdminRequestContext) async throws -> Response {
        let response = try await answer(request, client: SignInThrottle.clientKey(context.remoteAddress))
        // HEAD: the same head, never a body (a refusal's included).
        return request.method == .head ? AdminResponses.headOnly(response) : response
    }

    private func answer(_ request: Request, client: String?) async throws -> Response {
        let path = AdminRoute.path(of: request.head.path ?? "")
        guard let route = AdminRoute(path: path) else {
            return AdminResponses.text(.notFound, "not found: this listener serves the status page (/), /metrics and /healthz\n")
        }
        if let allowed = route.allowedMethods, !allowed.contains(request.method) {
            let names = allowed.map(\.rawValue)
            var response = AdminResponses.text(.methodNotAllowed, "method not allowed: use \(names.filter { $0 != "HEAD" }.joined(separator: " or "))\n")
            response.headers[.allow] = names.joined(separator: ", ")
            return response
        }
        if access.requiresToken, route.area != .open, let client, let wait = throttle.retryAfter(client) {
            return throttled(route, retryAfter: wait)
        }
        if case .refused(let status, let reason) = access.check(request.head, area: route.area) {
            if status == .unauthorized, AdminAccess.presentsCredential(request.headers) { wrongToken(from: client) }
            return refusal(route, status, reason)
        }
        if case .api(let apiPath) = route {
            guard let page, let response = await page.respond(to: request, path: apiPath) else {
                return AdminResponses.jsonError(.notFound, "not found: \(apiPath) is not a path of the status page's API")
            }
            return AdminResponses.secured(response)
        }
        return try await answer(route, request, client: client)
    }

    private func answer(_ route: AdminRoute, _ request: Request, client: String?) async throws -> Response {
        switch route {
        case .page:
            return AdminResponses.page(.ok, PageAssets.index.bytes, contentType: PageAssets.index.contentType)
        case .asset(let asset):
            // no-cache, not no-store: the browser keeps them but asks again, so a new daemon's
            // page is never mixed with the last one's scripts.
            return AdminResponses.page(.ok, asset.bytes, contentType: asset.contentType, cacheControl: "no-cache")
        case .login:
            // Without a token there is nothing to sign in with.
            guard access.requiresToken else { return AdminResponses.redirect(to: "/") }
            guard request.method == .post else { return loginPage(.ok) }
            return try await signIn(request, client: client)
        case .logout:
            guard access.requiresToken else { return AdminResponses.redirect(to: "/") }
            return AdminResponses.redirect(to: "/login", setCookie: AdminCredentials.logoutCookie)
        case .metrics:
            return AdminResponses.text(.ok, scrape.render(), contentType: "text/plain; version=0.0.4; charset=utf-8")
        case .healthz:
            let (session, plugins) = healthProblems()
            // Only plugins are the problem: the daemon still relays, but is not healthy either.
            let verdict = session.isEmpty ? "degraded" : "unhealthy"
            let problems = session + plugins
            return problems.isEmpty
                ? AdminResponses.text(.ok, "healthy\n")
                : AdminResponses.text(.serviceUnavailable, verdict + "\n" + problems.map { "- \($0)\n" }.joined())
        case .api:
            preconditionFailure("the API is answered by PageAPI")
        }
    }

    /// `POST /login`: the right token is answered with the cookie and the way to the page.
    private func signIn(_ request: Request, client: String?) async throws -> Response {
        let body: ByteBuffer
        do {
            body = try await request.body.collect(upTo: LoginForm.maxBodyBytes)
        } catch is NIOTooManyBytesError {
            return AdminResponses.text(.contentTooLarge, "content too large: the sign-in form is at most \(LoginForm.maxBodyBytes) bytes\n")
        }
        guard let token = LoginForm.token(in: Array(buffer: body)), access.matches(token) else {
            wrongToken(from: client)
            return loginPage(.unauthorized, message: Self.wrongTokenMessage)
        }
        return AdminResponses.redirect(to: "/", setCookie: AdminCredentials.loginCookie(token: token))
    }

    private func loginPage(_ status: HTTPResponse.Status, message: String? = nil) -> Response {
        let response = AdminResponses.page(status, PageAssets.loginPage(message: message), contentType: PageAssets.login.contentType)
        return status == .unauthorized ? AdminResponses.unauthorized(response) : response
    }

    private func wrongToken(from client: String?) {
        guard let client, throttle.failed(client) else { return }
        let limits = throttle.settings
        logger.warning("""
            admin: \(limits.maxFailures) wrong admin tokens from \(client) within \(limits.window.components.seconds) s; \
            its requests that need the token are refused (429) for \(limits.lockout.components.seconds) s
            """)
    }

    /// 429 for a client the sign-in throttle holds back, with Retry-After; the sign-in page says it.
    private func throttled(_ route: AdminRoute, retryAfter seconds: Int) -> Response {
        let message = "Too many wrong tokens from this address: try again in \(seconds) s."
        var response: Response
        switch route {
        case .page, .login, .logout:
            response = AdminResponses.page(.tooManyRequests, PageAssets.loginPage(message: message), contentType: PageAssets.login.contentType)
        case .api:
            response = AdminResponses.jsonError(.tooManyRequests, message)
        default:
            response = AdminResponses.text(.tooManyRequests, message + "\n")
        }
        response.headers[.retryAfter] = String(seconds)
        return response
    }

    /// A refused request, answered in its route's language: the sign-in page for the page itself
    /// (a browser shows it), JSON for the API, text for the rest.
    private func refusal(_ route: AdminRoute, _ status: HTTPResponse.Status, _ reason: String) -> Response {
        let response: Response
        switch route {
        case .page where status == .unauthorized:
            response = loginPage(.unauthorized)
        case .api:
            response = AdminResponses.jsonError(status, reason)
        default:
            response = AdminResponses.text(status, reason + "\n")
        }
        return status == .unauthorized ? AdminResponses.unauthorized(response) : response
    }
}
