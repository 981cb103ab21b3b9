import HTTPTypes
import XCTest
@testable import SpeakerbridgeHost

/// The admin listener's access rules without a listener: the token's comparison, where it is
/// read from, and the Host, Origin and Content-Type rules for browsers.
final class AdminAccessTests: XCTestCase {
    private let token = "0123456789abcdef0123"
    private var withToken: AdminAccess { AdminAccess(token: Secret(token)) }
    private let withoutToken = AdminAccess(token: nil)

    private func request(_ method: HTTPRequest.Method = .get, _ path: String = "/", host: String? = "127.0.0.1:8180",
                         _ fields: [(String, String)] = []) -> HTTPRequest {
        var headers = HTTPFields()
        for (name, value) in fields { headers.append(HTTPField(name: HTTPField.Name(name)!, value: value)) }
        return HTTPRequest(method: method, scheme: "http", authority: host, path: path, headerFields: headers)
    }

    private func status(_ verdict: AdminAccess.Verdict) -> Int? {
        if case .refused(let status, _) = verdict { return status.code }
        return nil
    }

    func testConstantTimeComparison() {
        let a = Array("0123456789abcdef".utf8)
        XCTAssertTrue(ConstantTimeComparison.equal(a, a))
        XCTAssertFalse(ConstantTimeComparison.equal(a, Array("0123456789abcdeF".utf8)))
        XCTAssertFalse(ConstantTimeComparison.equal(a, Array("0123456789abcdef0".utf8)), "a longer one")
        XCTAssertFalse(ConstantTimeComparison.equal(a, Array("0123456789abcde".utf8)), "a prefix")
        XCTAssertFalse(ConstantTimeComparison.equal([], a))
        XCTAssertFalse(ConstantTimeComparison.equal(a + [0], a), "a NUL after it is not the end")
        XCTAssertTrue(ConstantTimeComparison.equal([], []))
    }

    func testCookieValues() {
        XCTAssertEqual(AdminCredentials.cookieValues(in: ["speakerbridge_admin=abc"]), [Array("abc".utf8)])
        XCTAssertEqual(AdminCredentials.cookieValues(in: ["theme=dark; speakerbridge_admin=abc;other=1"]), [Array("abc".utf8)])
        XCTAssertEqual(AdminCredentials.cookieValues(in: ["a=1", "speakerbridge_admin=\"q\"", "speakerbridge_admin=x%20y"]),
                       [Array("q".utf8), Array("x y".utf8)])
        XCTAssertEqual(AdminCredentials.cookieValues(in: ["xspeakerbridge_admin=abc; speakerbridge_adminx=abc", "a"]), [])
        XCTAssertEqual(AdminCredentials.cookieValues(in: ["speakerbridge_admin="]), [[]])
    }

    func testCookieEncodingRoundTripsAnyToken() throws {
        for value in ["0123456789abcdef", "with space; and, \"quotes\" \\ 100%", "ünïcödé-token-0123"] {
            let cookie = AdminCredentials.loginCookie(token: Array(value.utf8))
            XCTAssertTrue(cookie.hasSuffix("; Path=/; HttpOnly; SameSite=Strict"), cookie)
            let pair = try XCTUnwrap(cookie.components(separatedBy: "; ").first)
            XCTAssertFalse(pair.dropFirst("speakerbridge_admin=".count).contains { $0 == " " || $0 == "," || $0 == "\"" || $0 == "\\" })
            XCTAssertEqual(AdminCredentials.cookieValues(in: [pair]), [Array(value.utf8)], value)
        }
        XCTAssertEqual(AdminCredentials.cookieEncoded(Array("0123456789abcdef".utf8)), "0123456789abcdef")
        XCTAssertTrue(AdminCredentials.logoutCookie.contains("Max-Age=0"))
    }

    func testBearerToken() {
        XCTAssertEqual(AdminCredentials.bearerToken(in: "Bearer abc"), Array("abc".utf8))
        XCTAssertEqual(AdminCredentials.bearerToken(in: "bearer   abc  "), Array("abc".utf8))
        XCTAssertNil(AdminCredentials.bearerToken(in: "Basic YWJj"))
        XCTAssertNil(AdminCredentials.bearerToken(in: "Bearer"))
        XCTAssertNil(AdminCredentials.bearerToken(in: "Bearer "))
        XCTAssertNil(AdminCredentials.bearerToken(in: "Bearerabc"))
        XCTAssertNil(AdminCredentials.bearerToken(in: nil))
    }

    func testLoginForm() {
        XCTAssertEqual(LoginForm.token(in: Array("token=abc".utf8)), Array("abc".utf8))
        XCTAssertEqual(LoginForm.token(in: Array("x=1&token=a+b%2Bc%3D&y=2".utf8)), Array("a b+c=".utf8))
        XCTAssertEqual(LoginForm.token(in: Array("token=".utf8)), [])
        XCTAssertNil(LoginForm.token(in: Array("tokens=abc&t=1".utf8)))
        XCTAssertNil(LoginForm.token(in: []))
    }

    func testTheTokenIsNeededWhereItShouldBe() {
        let access = withToken
        for area in [AdminRoute.Area.page, .api, .metrics] {
            XCTAssertEqual(status(access.check(request(), area: area)), 401, "\(area) without credentials")
            XCTAssertEqual(status(access.check(request(.get, "/", [("Cookie", "speakerbridge_admin=\(token)x")]), area: area)), 401)
            XCTAssertEqual(status(access.check(request(.get, "/", [("Authorization", "Bearer \(token.dropLast())")]), area: area)), 401)
            XCTAssertEqual(access.check(request(.get, "/", [("Cookie", "a=b; speakerbridge_admin=\(token)")]), area: area), .allowed)
            XCTAssertEqual(access.check(request(.get, "/", [("Authorization", "Bearer \(token)")]), area: area), .allowed)
            // A wrong cookie beside the right bearer (a stale cookie of another daemon on the same host).
            XCTAssertEqual(access.check(request(.get, "/", [("Cookie", "speakerbridge_admin=old"), ("Authorization", "Bearer \(token)")]),
                                        area: area), .allowed)
        }
        XCTAssertEqual(access.check(request(), area: .login), .allowed)
        XCTAssertEqual(access.check(request(), area: .open), .allowed)
        // With a token, any Host: the token is the rule (a bind beyond loopback is reached by name).
        XCTAssertEqual(access.check(request(.get, "/", host: "speakerbridge.lan:8180", [("Authorization", "Bearer \(token)")]),
                                    area: .page), .allowed)
        XCTAssertTrue(access.requiresToken)
        XCTAssertFalse(withoutToken.requiresToken)
    }

    func testWithoutATokenOnlyALoopbackHost() {
        for host in ["127.0.0.1:8180", "localhost:8180", "[::1]:8180", "127.0.0.1"] {
            for area in [AdminRoute.Area.page, .api, .login] {
                XCTAssertEqual(withoutToken.check(request(.get, "/", host: host), area: area), .allowed, "\(host) \(area)")
            }
        }
        for host in ["evil.example", "evil.example:8180", "127.0.0.1.evil.example:8180", nil] {
            for area in [AdminRoute.Area.page, .api, .login] {
                XCTAssertEqual(status(withoutToken.check(request(.get, "/", host: host), area: area)), 403, "\(host ?? "none") \(area)")
            }
            // Prometheus and health checks are not browsers' business.
            XCTAssertEqual(withoutToken.check(request(.get, "/metrics", host: host), area: .metrics), .allowed)
            XCTAssertEqual(withoutToken.check(request(.get, "/healthz", host: host), area: .open), .allowed)
        }
        // A second Host header is not a second chance.
        XCTAssertEqual(status(withoutToken.check(request(.get, "/", [("Host", "evil.example")]), area: .page)), 403)
    }

    func testAPOSTMustComeFromTheListenersOwnPage() {
        let json = ("Content-Type", "application/json")
        for access in [withToken, withoutToken] {
            let bearer = ("Authorization", "Bearer \(token)")
            XCTAssertEqual(access.check(request(.post, "/api/request", [json, bearer]), area: .api), .allowed, "curl: no Origin")
            XCTAssertEqual(access.check(request(.post, "/api/request", [json, bearer, ("Origin", "http://127.0.0.1:8180")]), area: .api), .allowed)
            XCTAssertEqual(access.check(request(.post, "/api/request", [json, bearer, ("Origin", "HTTP://127.0.0.1:8180")]), area: .api), .allowed)
            // Behind a proxy that terminates TLS and passes the Host on, the page's own Origin is https.
            XCTAssertEqual(access.check(request(.post, "/api/request", [json, bearer, ("Origin", "https://127.0.0.1:8180")]), area: .api), .allowed)
            if access.requiresToken {
                XCTAssertEqual(access.check(request(.post, "/login", host: "bridge.example", [("Origin", "https://bridge.example")]), area: .login),
                               .allowed)
            }
            for origin in ["http://evil.example", "null", "http://127.0.0.1:8181", "https://127.0.0.1:8181", "http://127.0.0.1",
                           "https://127.0.0.1", "ftp://127.0.0.1:8180", "https://127.0.0.1:8180.evil.example"] {
                XCTAssertEqual(status(access.check(request(.post, "/api/request", [json, bearer, ("Origin", origin)]), area: .api)), 403, origin)
                XCTAssertEqual(status(access.check(request(.post, "/login", [("Origin", origin)]), area: .login)), 403, origin)
                XCTAssertEqual(status(access.check(request(.post, "/logout", [bearer, ("Origin", origin)]), area: .page)), 403, origin)
            }
            // Any method that is not a read.
            XCTAssertEqual(status(access.check(request(.delete, "/api/request", [json, bearer, ("Origin", "http://evil.example")]), area: .api)), 403)
            XCTAssertEqual(status(access.check(request(.put, "/api/request", [bearer, ("Content-Type", "text/plain")]), area: .api)), 415)
            // A GET with another page's Origin (an <img>, a fetch without credentials) is not refused for that.
            XCTAssertEqual(access.check(request(.get, "/api/events", [bearer, ("Origin", "http://evil.example")]), area: .api), .allowed)
            // Only JSON: a form or text/plain is what another site can post without a preflight.
            for type in ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "application/jsonx"] {
                XCTAssertEqual(status(access.check(request(.post, "/api/request", [bearer, ("Content-Type", type)]), area: .api)), 415, type)
            }
            XCTAssertEqual(status(access.check(request(.post, "/api/request", [bearer]), area: .api)), 415)
            XCTAssertEqual(access.check(request(.post, "/api/request", [bearer, ("Content-Type", "Application/JSON; charset=utf-8")]),
                                        area: .api), .allowed)
        }
    }

    func testRoutesAreExactPaths() {
        XCTAssertEqual(AdminRoute(path: "/"), .page)
        XCTAssertEqual(AdminRoute(path: "/index.html"), .page)
        XCTAssertEqual(AdminRoute(path: "/api/events"), .api("/api/events"))
        XCTAssertEqual(AdminRoute(path: "/assets/app.js"), .asset(PageAssets.files["app.js"]!))
        for path in ["/assets/", "/assets/index.html", "/assets/../metrics", "/assets/app.js/", "/assets/%61pp.js", "/assets//app.js",
                     "/Assets/app.js", "/api", "/login/", "//", "/index.htm"] {
            XCTAssertNil(AdminRoute(path: Substring(path)), path)
        }
        XCTAssertEqual(AdminRoute.path(of: "/login?next=/"), "/login")
        XCTAssertEqual(Set(PageAssets.files.keys), ["style.css", "app.js", "feed.js", "speakers.js", "say.js", "announcements.js",
                                                    "plugins.js", "health.js", "icon.svg"])
        XCTAssertEqual(PageAssets.files["icon.svg"]?.contentType, "image/svg+xml")
    }

    func testTheLoginPageSaysWhyEscaped() {
        let page = String(decoding: PageAssets.loginPage(message: "That <token> is not right."), as: UTF8.self)
        XCTAssertTrue(page.contains("That &lt;token&gt; is not right."), page)
        XCTAssertFalse(page.contains("<!--message-->"))
        XCTAssertEqual(PageAssets.loginPage(message: nil), PageAssets.login.bytes)
    }
}
