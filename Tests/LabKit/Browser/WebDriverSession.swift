import Foundation

/// One browser session over the W3C WebDriver protocol (plain HTTP and JSON, see NamespaceHTTP):
/// navigate, find elements by CSS selector, click, type, read text/attributes/properties, run a
/// script, press keys, resize the window, take a screenshot. Every error says what was asked.
public final class WebDriverSession: Sendable {
    public let host: String
    public let port: Int
    public let id: String

    init(host: String, port: Int, id: String) {
        self.host = host
        self.port = port
        self.id = id
    }

    /// The W3C name of an element reference in JSON.
    static let elementKey = "element-6066-11e4-a52e-4f735466cecf"

    /// WebDriver's code points for keys that are not text (W3C WebDriver, "Keyboard actions").
    public enum Key {
        public static let home = "\u{E011}"
        public static let end = "\u{E010}"
        public static let arrowLeft = "\u{E012}"
        public static let arrowUp = "\u{E013}"
        public static let arrowRight = "\u{E014}"
        public static let arrowDown = "\u{E015}"
        public static let enter = "\u{E007}"
        public static let tab = "\u{E004}"
    }

    /// One command; returns its `value`, throws the driver's error (name and message) when it failed.
    static func call(host: String, port: Int, _ method: String, _ path: String, _ body: Any? = nil,
                     timeout: Double = 30) throws -> Any? {
        let bytes = try body.map { Array(try JSONSerialization.data(withJSONObject: $0)) }
        let answer = try NamespaceHTTP.request(host: host, port: port, method: method, path: path,
                                               headers: bytes == nil ? [] : [("Content-Type", "application/json; charset=utf-8")],
                                               body: bytes, timeout: timeout)
        let json = (try? JSONSerialization.jsonObject(with: Data(answer.body), options: [.fragmentsAllowed])) as? [String: Any]
        let value = json?["value"]
        guard answer.status == 200 else {
            let error = value as? [String: Any]
            let name = error?["error"] as? String ?? "HTTP \(answer.status)"
            // The first line of the message; chromedriver appends its build and platform after it.
            let message = (error?["message"] as? String ?? answer.text).split(separator: "\n").first.map(String.init) ?? ""
            throw LabError("WebDriver \(method) \(path): \(name): \(message)")
        }
        return value is NSNull ? nil : value
    }

    @discardableResult
    func call(_ method: String, _ path: String, _ body: Any? = nil, timeout: Double = 30) throws -> Any? {
        // A POST without parameters still carries an empty JSON object (W3C WebDriver).
        let payload: Any? = body ?? (method == "POST" ? [String: Any]() : nil)
        return try WebDriverSession.call(host: host, port: port, method, "/session/\(id)\(path)", payload, timeout: timeout)
    }

    // MARK: the page

    public func navigate(to url: String) throws { try call("POST", "/url", ["url": url], timeout: 60) }

    public func currentURL() throws -> String { try call("GET", "/url") as? String ?? "" }

    /// The first element matching `css`; throws (with the selector) when there is none.
    public func find(_ css: String) throws -> WebElement {
        let value = try call("POST", "/element", ["using": "css selector", "value": css])
        guard let id = (value as? [String: Any])?[WebDriverSession.elementKey] as? String else {
            throw LabError("find \(css): no element reference in \(String(describing: value))")
        }
        return WebElement(session: self, id: id, selector: css)
    }

    /// Every element matching `css` (empty when none).
    public func findAll(_ css: String) throws -> [WebElement] {
        let value = try call("POST", "/elements", ["using": "css selector", "value": css]) as? [[String: Any]] ?? []
        return value.compactMap { $0[WebDriverSession.elementKey] as? String }.map { WebElement(session: self, id: $0, selector: css) }
    }

    /// Runs `script` as a function body (`return …` gives the result); elements in `arguments` are
    /// passed as DOM elements.
    @discardableResult
    public func execute(_ script: String, _ arguments: [Any] = []) throws -> Any? {
        let args = arguments.map { ($0 as? WebElement).map { [WebDriverSession.elementKey: $0.id] as Any } ?? $0 }
        return try call("POST", "/execute/sync", ["script": script, "args": args])
    }

    /// What a reader sees: `document.body.innerText`, cut to `limit` characters (for failure messages).
    public func pageText(limit: Int = 2000) -> String {
        let text = (try? execute("return document.body ? document.body.innerText : document.documentElement.outerHTML")) as? String
            ?? "(the page's text could not be read)"
        return text.count > limit ? String(text.prefix(limit)) + "…" : text
    }

    /// Sets a cookie for the current page's host (the page must be open on it already).
    public func addCookie(name: String, value: String, path: String = "/") throws {
        try call("POST", "/cookie", ["cookie": ["name": name, "value": value, "path": path]])
    }

    /// Key presses to whatever has the focus, each key down then up (WebDriver actions).
    public func press(_ keys: [String]) throws {
        let actions = keys.flatMap { [["type": "keyDown", "value": $0], ["type": "keyUp", "value": $0]] }
        try call("POST", "/actions", ["actions": [["type": "key", "id": "keyboard", "actions": actions] as [String: Any]]])
        try call("DELETE", "/actions")
    }

    /// The outer size of the window (headless: the viewport's).
    public func setWindowSize(width: Int, height: Int) throws {
        try call("POST", "/window/rect", ["width": width, "height": height])
    }

    /// Sizes the window so that the page's viewport (what a screenshot shows) is `width`×`height`
    /// CSS pixels: headless Chromium's window still has room for a browser frame it does not draw.
    public func setViewportSize(width: Int, height: Int) throws {
        try setWindowSize(width: width, height: height)
        let inner = try execute("return [window.innerWidth, window.innerHeight]") as? [Int] ?? [width, height]
        guard inner.count == 2, inner != [width, height] else { return }
        try setWindowSize(width: 2 * width - inner[0], height: 2 * height - inner[1])
    }

    /// A PNG of the viewport, written to `path`.
    public func screenshot(to path: String) throws {
        guard let base64 = try call("GET", "/screenshot", timeout: 60) as? String, let png = Data(base64Encoded: base64) else {
            throw LabError("screenshot: no base64 PNG in the answer")
        }
        try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try png.write(to: URL(fileURLWithPath: path))
    }

    /// Waits until `condition` holds (polling; errors while polling count as "not yet"); on timeout
    /// throws what was awaited, the last error and what the page showed.
    public func wait(for what: String, timeout: Double = 15, _ condition: () throws -> Bool) throws {
        var lastError: Error?
        let met = waitUntil(timeout: timeout, interval: 0.1) {
            do { return try condition() } catch { lastError = error; return false }
        }
        guard met else {
            throw LabError("waited \(timeout) s for \(what)" + (lastError.map { " (last error: \($0))" } ?? "")
                + "; the page (\((try? currentURL()) ?? "?")) showed:\n\(pageText())")
        }
    }

    /// Ends the session: the driver quits this browser.
    public func delete() {
        _ = try? WebDriverSession.call(host: host, port: port, "DELETE", "/session/\(id)", timeout: 20)
    }
}

/// An element of the page, as the driver knows it (stale once the page replaced it).
public struct WebElement: Sendable {
    public let session: WebDriverSession
    public let id: String
    /// The selector it was found by, for messages.
    public let selector: String

    public func click() throws { try session.call("POST", "/element/\(id)/click") }

    public func clear() throws { try session.call("POST", "/element/\(id)/clear") }

    /// Types `text` into the element (WebDriver's "element send keys": it focuses the element first).
    public func type(_ text: String) throws { try session.call("POST", "/element/\(id)/value", ["text": text]) }

    /// The rendered text (like innerText).
    public func text() throws -> String { try session.call("GET", "/element/\(id)/text") as? String ?? "" }

    /// The attribute's value as in the markup; nil when absent.
    public func attribute(_ name: String) throws -> String? { try session.call("GET", "/element/\(id)/attribute/\(name)") as? String }

    /// The DOM property's current value (e.g. `value` of an input after the user moved it).
    public func property(_ name: String) throws -> Any? { try session.call("GET", "/element/\(id)/property/\(name)") }

    public func isDisplayed() throws -> Bool { try session.call("GET", "/element/\(id)/displayed") as? Bool ?? false }

    /// Gives the element the keyboard focus (as Tab would), without clicking on it.
    public func focus() throws { try session.execute("arguments[0].focus()", [self]) }
}
