import Foundation

/// Debian's chromedriver, run inside a BrowserNamespace: it listens on the namespace's address and
/// takes commands only from our end of the pair (`--allowed-ips`); the Chromium it starts for a
/// session is its child, so it is in the namespace too.
public final class ChromeDriver: Sendable {
    public static let driverPath = "/usr/bin/chromedriver"
    public static let browserPath = "/usr/bin/chromium"

    /// nil when the driver and the browser are installed; otherwise what is missing.
    public static var unavailableReason: String? {
        let missing = [driverPath, browserPath].filter { !FileManager.default.isExecutableFile(atPath: $0) }
        return missing.isEmpty ? nil
            : "\(missing.joined(separator: " and ")) missing (scripts/install-deps.sh test installs chromium and chromium-driver)"
    }

    /// The flags of a browser that stays quiet: headless, no first-run or background traffic, and no
    /// sandbox (the tests run as root, where Chromium's sandbox refuses to start).
    public static func chromiumArguments(profile: String, width: Int = 1280, height: Int = 900) -> [String] {
        ["--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--disable-default-apps", "--disable-dev-shm-usage",
         "--user-data-dir=\(profile)", "--window-size=\(width),\(height)"]
    }

    public let namespace: BrowserNamespace
    public let port: Int
    public let logPath: String
    private let child: ChildProcess

    /// Starts the driver and waits until its `/status` says ready.
    public init(namespace: BrowserNamespace, port: Int = 9515, logPath: String, timeout: Double = 20) throws {
        if let reason = ChromeDriver.unavailableReason { throw LabError(reason) }
        self.namespace = namespace
        self.port = port
        self.logPath = logPath
        child = try ChildProcess(namespace.command([ChromeDriver.driverPath, "--port=\(port)",
                                                    "--allowed-ips=\(namespace.hostAddress)"]),
                                 outputPath: logPath)
        var last = "no answer"
        let ready = waitUntil(timeout: timeout, interval: 0.1) {
            guard child.isRunning else { return false }
            do {
                let answer = try NamespaceHTTP.request(host: namespace.browserAddress, port: port, method: "GET",
                                                       path: "/status", timeout: 2)
                last = answer.text
                let value = (try? JSONSerialization.jsonObject(with: Data(answer.body))) as? [String: Any]
                return (value?["value"] as? [String: Any])?["ready"] as? Bool == true
            } catch {
                last = "\(error)"
                return false
            }
        }
        guard ready else {
            child.kill9()
            throw LabError("chromedriver in \(namespace.name) not ready after \(timeout) s (\(last))\n\(tail(of: logPath))")
        }
    }

    deinit { stop() }

    public var isRunning: Bool { child.isRunning }
    public var pid: Int32 { child.pid }

    /// A browser session: Chromium with `arguments` (see `chromiumArguments`).
    public func session(arguments: [String]) throws -> WebDriverSession {
        let capabilities: [String: Any] = ["capabilities": ["alwaysMatch": [
            "browserName": "chrome",
            "goog:chromeOptions": ["binary": ChromeDriver.browserPath, "args": arguments],
        ] as [String: Any]]]
        let value = try WebDriverSession.call(host: namespace.browserAddress, port: port, "POST", "/session",
                                              capabilities, timeout: 60)
        guard let id = (value as? [String: Any])?["sessionId"] as? String else {
            throw LabError("new session: no sessionId in \(String(describing: value))")
        }
        return WebDriverSession(host: namespace.browserAddress, port: port, id: id)
    }

    /// SIGTERM, then SIGKILL; the browser's processes go with the namespace (BrowserNamespace.destroy).
    public func stop() {
        child.terminate(timeout: 3)
    }
}
