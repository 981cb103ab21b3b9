import Foundation
import LabKit
import XCTest

/// Who may use the status page, with the real daemon, a real mosquitto, the espeak-ng TTS plugin
/// and the log speaker, by raw HTTP to the admin listener on 127.0.0.1: without a token on
/// loopback, the page and its files with their headers, and the Host and Origin rules; with a
/// token file, 401 until the token comes as a bearer or as the cookie `POST /login` sets; a bind
/// beyond loopback without a token, or a short token, is refused before the daemon starts. After
/// every refusal the daemon still answers over MQTT.
final class AdminPageAccessTests: XCTestCase {
    private static let csp = "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        + "connect-src 'self'; frame-ancestors 'none'"
    private let token = "4f6c2a9e1b7d3c5a8e0f2b4d6a8c0e1f"

    private func jsonBody(_ object: [String: Any]) throws -> [UInt8] {
        Array(try JSONSerialization.data(withJSONObject: object))
    }

    private func errorText(_ answer: AdminEndpoint.Answer) -> String? {
        (try? JSONSerialization.jsonObject(with: Data(answer.body.utf8)) as? [String: Any])?["error"] as? String
    }

    /// The daemon with a token file, which it reads at its start (the file goes after).
    private func labWithToken() throws -> (lab: PluginDaemon, admin: AdminEndpoint) {
        let dir = try TempDirectory(prefix: "sbtoken")
        defer { dir.remove() }
        try (token + "\n").write(toFile: dir.file("admin-token"), atomically: true, encoding: .utf8)
        let lab = try PluginDaemon.speech(settings: ["admin.token_file": dir.file("admin-token")])
        do {
            return (lab, try AdminEndpoint.of(lab.daemon))
        } catch {
            lab.broker.stop()
            throw error
        }
    }

    func testWithoutATokenTheLoopbackPageIsOpenButOnlyToLoopbackAndItsOwnOrigin() throws {
        let lab = try PluginDaemon.speech()
        defer { lab.broker.stop() }
        let admin = try AdminEndpoint.of(lab.daemon)
        XCTAssertTrue(lab.daemon.log().contains("(status page /, /metrics, /healthz)"), lab.daemon.log())

        let page = try admin.get("/")
        XCTAssertEqual(page.status, 200)
        XCTAssertEqual(page.headers["content-type"], "text/html; charset=utf-8")
        XCTAssertEqual(page.headers["content-security-policy"], Self.csp)
        XCTAssertEqual(page.headers["x-frame-options"], "DENY")
        XCTAssertEqual(page.headers["referrer-policy"], "same-origin")
        XCTAssertEqual(page.headers["cache-control"], "no-store")
        XCTAssertTrue(page.body.contains("/assets/app.js"), page.body)
        XCTAssertEqual(try admin.get("/index.html").body, page.body)
        XCTAssertEqual(try admin.request("HEAD", "/").body, "")

        for (file, type) in [("app.js", "text/javascript; charset=utf-8"), ("feed.js", "text/javascript; charset=utf-8"),
                             ("style.css", "text/css; charset=utf-8"), ("icon.svg", "image/svg+xml")] {
            let asset = try admin.get("/assets/\(file)")
            XCTAssertEqual(asset.status, 200, file)
            XCTAssertEqual(asset.headers["content-type"], type, file)
            XCTAssertEqual(asset.headers["cache-control"], "no-cache", file)
            XCTAssertEqual(asset.headers["x-content-type-options"], "nosniff", file)
            XCTAssertFalse(asset.body.isEmpty, file)
        }
        for path in ["/assets/index.html", "/assets/../metrics", "/assets/app.js/", "/assets/%61pp.js", "/assets/nope.js", "/api/nope"] {
            XCTAssertEqual(try admin.get(path).status, 404, path)
        }
        XCTAssertEqual(try admin.request("POST", "/assets/app.js").status, 405)
        XCTAssertEqual(try admin.get("/login").status, 303, "nothing to sign in with")

        // DNS rebinding: another name for 127.0.0.1 is another site to the browser, and refused.
        for path in ["/", "/api/events", "/login"] {
            let rebound = try admin.request("GET", path, host: "evil.example:\(admin.port)")
            XCTAssertEqual(rebound.status, 403, path)
            XCTAssertTrue(rebound.body.contains("loopback"), rebound.body)
        }
        XCTAssertEqual(errorText(try admin.request("GET", "/api/events", host: "evil.example"))?.hasPrefix("forbidden"), true)
        XCTAssertEqual(try admin.get("/assets/app.js").status, 200)
        XCTAssertEqual(try admin.request("GET", "/metrics", host: "evil.example").status, 200, "Prometheus is no browser")

        // Cross-site POSTs: another Origin, or a body a form could send.
        let health = try jsonBody(["topic": "\(lab.base)/bridge/request/health", "payload": ["transaction": "page-1"]])
        let json = ("Content-Type", "application/json")
        let foreign = try admin.request("POST", "/api/request", headers: [json, ("Origin", "http://evil.example")], body: health)
        XCTAssertEqual(foreign.status, 403)
        XCTAssertTrue(errorText(foreign)?.contains("Origin") == true, foreign.body)
        XCTAssertEqual(try admin.request("POST", "/api/request", headers: [("Content-Type", "text/plain")], body: health).status, 415)
        XCTAssertEqual(try admin.request("POST", "/api/request", headers: [("Content-Type", "application/x-www-form-urlencoded")],
                                         body: Array("a=b".utf8)).status, 415)
        XCTAssertTrue(lab.client.messages(on: "\(lab.base)/bridge/response/health").isEmpty, "nothing refused was done")
        // The page's own Origin, and curl's none, are taken.
        let own = try admin.request("POST", "/api/request", headers: [json, ("Origin", "http://127.0.0.1:\(admin.port)")], body: health)
        XCTAssertEqual(own.status, 202, own.body)
        XCTAssertEqual(try admin.request("POST", "/api/request", headers: [json], body: health).status, 202)

        XCTAssertEqual(try admin.get("/metrics").status, 200)
        XCTAssertEqual(try admin.get("/healthz").status, 200)
        XCTAssertEqual(try lab.request("health")["status"] as? String, "ok")
    }

    func testWithATokenFileEverythingButHealthzLoginAndAssetsNeedsIt() throws {
        let (lab, admin) = try labWithToken()
        defer { lab.broker.stop() }
        XCTAssertFalse(lab.daemon.log().contains(token), "the token never reaches the log")

        // No token, a wrong one: 401, and for the page the sign-in form.
        let bare = try admin.get("/")
        XCTAssertEqual(bare.status, 401)
        XCTAssertEqual(bare.headers["www-authenticate"], #"Bearer realm="speakerbridge""#)
        XCTAssertEqual(bare.headers["content-type"], "text/html; charset=utf-8")
        XCTAssertEqual(bare.headers["content-security-policy"], Self.csp)
        XCTAssertTrue(bare.body.contains("id=\"login-form\""), bare.body)
        XCTAssertFalse(bare.body.contains("That token is not right."))
        let head = try admin.request("HEAD", "/")
        XCTAssertEqual(head.status, 401)
        XCTAssertEqual(head.body, "")
        for headers in [[("Cookie", "speakerbridge_admin=\(token.dropLast())")], [("Cookie", "other=\(token)")],
                        [("Authorization", "Bearer \(token)0")], [("Authorization", "Basic \(token)")]] {
            XCTAssertEqual(try admin.request("GET", "/", headers: headers).status, 401, "\(headers)")
        }
        let api = try admin.get("/api/events")
        XCTAssertEqual(api.status, 401)
        XCTAssertEqual(api.headers["content-type"], "application/json")
        XCTAssertTrue(errorText(api)?.hasPrefix("unauthorized") == true, api.body)
        let post = try admin.request("POST", "/api/request", headers: [("Content-Type", "application/json")],
                                     body: try jsonBody(["topic": "\(lab.base)/bridge/request/health", "payload": [:]]))
        XCTAssertEqual(post.status, 401)

        // The right bearer: the page, from any Host (the token is the rule once there is one).
        let bearer = ("Authorization", "Bearer \(token)")
        XCTAssertEqual(try admin.request("GET", "/", headers: [bearer]).status, 200)
        XCTAssertEqual(try admin.request("GET", "/", headers: [bearer], host: "speakerbridge.lan:\(admin.port)").status, 200)

        // Sign in: a wrong token is 401 with the form saying so, the right one 303 with the cookie.
        let form = ("Content-Type", "application/x-www-form-urlencoded")
        let wrong = try admin.request("POST", "/login", headers: [form], body: Array("token=guess-guess-guess-guess".utf8))
        XCTAssertEqual(wrong.status, 401)
        XCTAssertTrue(wrong.body.contains("That token is not right."), wrong.body)
        XCTAssertTrue(wrong.body.contains("id=\"login-form\""))
        XCTAssertEqual(try admin.request("POST", "/login", headers: [form, ("Origin", "http://evil.example")],
                                         body: Array("token=\(token)".utf8)).status, 403, "no sign-in from another site")
        // Behind a proxy that terminates TLS and passes the browser's Host on, the page's Origin is https.
        let proxied = try admin.request("POST", "/login", headers: [form, ("Origin", "https://bridge.example")],
                                        body: Array("token=\(token)".utf8), host: "bridge.example")
        XCTAssertEqual(proxied.status, 303, proxied.body)
        XCTAssertEqual(try admin.request("POST", "/login", headers: [form], body: [UInt8](repeating: 0x61, count: 5000)).status, 413)
        let signIn = try admin.request("POST", "/login", headers: [form, ("Origin", "http://127.0.0.1:\(admin.port)")],
                                       body: Array("token=\(token)".utf8))
        XCTAssertEqual(signIn.status, 303)
        XCTAssertEqual(signIn.headers["location"], "/")
        XCTAssertEqual(signIn.headers["set-cookie"], "speakerbridge_admin=\(token); Path=/; HttpOnly; SameSite=Strict")
        let cookie = ("Cookie", "theme=dark; speakerbridge_admin=\(token)")
        let signedIn = try admin.request("GET", "/", headers: [cookie])
        XCTAssertEqual(signedIn.status, 200)
        XCTAssertTrue(signedIn.body.contains("/assets/app.js"))
        XCTAssertEqual(try admin.get("/login").status, 200)

        // Prometheus brings the bearer; health checks need nothing; nor do the page's files.
        XCTAssertEqual(try admin.get("/metrics").status, 401)
        XCTAssertEqual(try admin.get("/metrics").headers["www-authenticate"], #"Bearer realm="speakerbridge""#)
        let metrics = try admin.request("GET", "/metrics", headers: [bearer])
        XCTAssertEqual(metrics.status, 200)
        XCTAssertTrue(metrics.body.contains("# TYPE"), metrics.body.prefix(200).description)
        XCTAssertEqual(try admin.get("/healthz").status, 200)
        XCTAssertEqual(try admin.get("/assets/app.js").status, 200)

        // The API with the cookie; then sign out, which forgets it.
        let health = try jsonBody(["topic": "\(lab.base)/bridge/request/health", "payload": ["transaction": "page-2"]])
        XCTAssertEqual(try admin.request("POST", "/api/request", headers: [cookie, ("Content-Type", "application/json")], body: health).status, 202)
        XCTAssertEqual(try admin.request("POST", "/logout").status, 401)
        let signOut = try admin.request("POST", "/logout", headers: [cookie])
        XCTAssertEqual(signOut.status, 303)
        XCTAssertEqual(signOut.headers["location"], "/login")
        XCTAssertTrue(signOut.headers["set-cookie"]?.hasPrefix("speakerbridge_admin=; ") == true, "\(signOut.headers)")
        XCTAssertTrue(signOut.headers["set-cookie"]?.contains("Max-Age=0") == true)
        XCTAssertEqual(try admin.get("/logout").status, 405)

        XCTAssertEqual(try lab.request("health")["status"] as? String, "ok")
        XCTAssertTrue(lab.daemon.process.isRunning)
    }

    func testWrongTokensFromOneAddressHoldItBackWhileOtherClientsAndTheDaemonGoOn() throws {
        let (lab, admin) = try labWithToken()
        defer { lab.broker.stop() }
        let (guesser, neighbour) = ("127.0.0.7", "127.0.0.8")
        let bearer = ("Authorization", "Bearer \(token)")
        let form = ("Content-Type", "application/x-www-form-urlencoded")

        // 19 wrong bearers and cookies, then a wrong sign-in: each one a plain 401.
        for i in 0..<19 {
            let wrong = i % 2 == 0 ? ("Authorization", "Bearer guess-\(i)-\(token.dropFirst(8))")
                                   : ("Cookie", "speakerbridge_admin=guess-\(i)-\(token.dropFirst(8))")
            XCTAssertEqual(try admin.request("GET", "/api/events", headers: [wrong], from: guesser).status, 401, "guess \(i + 1)")
        }
        XCTAssertEqual(try admin.get("/", from: guesser).status, 401, "a request without any token is no guess")
        let twentieth = try admin.request("POST", "/login", headers: [form], body: Array("token=guess-20-\(token)".utf8), from: guesser)
        XCTAssertEqual(twentieth.status, 401)
        XCTAssertTrue(twentieth.body.contains("That token is not right."), twentieth.body)

        // Now that address is held back, the right token included, without a comparison.
        let page = try admin.request("GET", "/", headers: [bearer], from: guesser)
        XCTAssertEqual(page.status, 429)
        XCTAssertTrue((50...60).contains(Int(page.headers["retry-after"] ?? "") ?? 0), "\(page.headers)")
        XCTAssertTrue(page.body.contains("Too many wrong tokens from this address: try again in "), page.body)
        XCTAssertTrue(page.body.contains("id=\"login-form\""), "the sign-in page says why")
        let api = try admin.request("GET", "/api/events", headers: [bearer], from: guesser)
        XCTAssertEqual(api.status, 429)
        XCTAssertTrue(errorText(api)?.hasPrefix("Too many wrong tokens from this address") == true, api.body)
        XCTAssertEqual(try admin.request("GET", "/metrics", headers: [bearer], from: guesser).status, 429)
        XCTAssertEqual(try admin.request("POST", "/login", headers: [form], body: Array("token=\(token)".utf8), from: guesser).status, 429,
                       "no sign-in either")
        XCTAssertEqual(try admin.request("GET", "/healthz", from: guesser).status, 200, "what needs no token stays open")
        XCTAssertEqual(try admin.request("GET", "/assets/app.js", from: guesser).status, 200)

        // Another client is not held back: its right token opens the page, its wrong one is a 401.
        XCTAssertEqual(try admin.request("GET", "/", headers: [bearer], from: neighbour).status, 200)
        XCTAssertEqual(try admin.request("GET", "/", headers: [("Authorization", "Bearer nope-nope-nope-nope")], from: neighbour).status, 401)
        let health = try jsonBody(["topic": "\(lab.base)/bridge/request/health", "payload": ["transaction": "after-guesses"]])
        XCTAssertEqual(try admin.request("POST", "/api/request", headers: [bearer, ("Content-Type", "application/json")], body: health,
                                         from: neighbour).status, 202)
        let answer = try lab.client.waitFor("\(lab.base)/bridge/response/health", timeout: 10) {
            String(decoding: $0.payload, as: UTF8.self).contains("after-guesses")
        }
        XCTAssertTrue(String(decoding: answer.payload, as: UTF8.self).contains("\"status\":\"ok\""))

        // Said once in the log, without the token; the daemon goes on over MQTT.
        let said = "admin: 20 wrong admin tokens from \(guesser) within 60 s; its requests that need the token are refused (429) for 60 s"
        XCTAssertEqual(lab.daemon.log().components(separatedBy: said).count - 1, 1, lab.daemon.log())
        XCTAssertFalse(lab.daemon.log().contains(token))
        XCTAssertEqual(try lab.request("health")["status"] as? String, "ok")
        XCTAssertTrue(lab.daemon.process.isRunning)
    }

    func testABindBeyondLoopbackWithoutATokenAndAShortTokenAreRefusedBeforeTheStart() throws {
        let broker = try MosquittoBroker()
        try broker.start()
        defer { broker.stop() }
        let open = try DaemonUnderTest(brokerPort: broker.port, settings: ["admin.bind": "0.0.0.0"])
        defer { open.state.remove() }
        try open.start()
        XCTAssertEqual(open.process.waitForExit(timeout: 20), 1)
        let said = "admin.bind (command line): is 0.0.0.0, not loopback: the status page and its controls"
        XCTAssertTrue(open.log().contains(said), open.log())
        XCTAssertTrue(open.log().contains("set admin.token_file to a file holding a token of at least 16 characters"), open.log())
        XCTAssertFalse(open.log().contains("mqtt: connected"), open.log())

        let check = try DaemonProcess.run(arguments: ["config", "check", "--set", "admin.bind=0.0.0.0"])
        XCTAssertEqual(check.status, 1)
        XCTAssertTrue(check.output.contains(said), check.output)

        let dir = try TempDirectory(prefix: "sbtoken")
        defer { dir.remove() }
        try "0123456789\n".write(toFile: dir.file("short"), atomically: true, encoding: .utf8)
        let short = try DaemonUnderTest(brokerPort: broker.port, settings: ["admin.token_file": dir.file("short")])
        defer { short.state.remove() }
        try short.start()
        XCTAssertEqual(short.process.waitForExit(timeout: 20), 1)
        XCTAssertTrue(short.log().contains("admin.token_file (command line): \(dir.file("short")) holds a token of 10 characters"), short.log())

        try "0123456789abcdef\n".write(toFile: dir.file("token"), atomically: true, encoding: .utf8)
        let shown = try DaemonProcess.run(arguments: ["config", "check", "--print", "--set", "admin.token_file=\(dir.file("token"))"])
        XCTAssertEqual(shown.status, 0, shown.output)
        XCTAssertTrue(shown.output.contains("admin.token_file = \(dir.file("token"))"), shown.output)
        XCTAssertTrue(shown.output.contains("admin.token = <redacted>"), shown.output)
        XCTAssertFalse(shown.output.contains("0123456789abcdef\n"), shown.output)
    }
}
