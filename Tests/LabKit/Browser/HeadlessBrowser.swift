import Foundation

/// A headless Chromium in a namespace of its own, driven over WebDriver: the BrowserNamespace, the
/// ChromeDriver in it, a fresh profile and one session. `close` takes all of it down again (the
/// session, the driver, every process left in the namespace, the namespace and the profile), also
/// after a failure, and `leftovers` lets a test check that it did.
public final class HeadlessBrowser: Sendable {
    public let namespace: BrowserNamespace
    public let driver: ChromeDriver
    public let session: WebDriverSession
    private let scratch: TempDirectory

    /// nil when a browser can run here (root for the namespace, chromium and chromedriver installed).
    public static var unavailableReason: String? { BrowserNamespace.unavailableReason ?? ChromeDriver.unavailableReason }

    /// `namespace`: one the caller made already (the daemon under test must listen on its
    /// `hostAddress` before the browser starts); nil makes one.
    public init(namespace: BrowserNamespace? = nil, width: Int = 1280, height: Int = 900) throws {
        let namespace = try namespace ?? BrowserNamespace()
        self.namespace = namespace
        scratch = try TempDirectory(prefix: "sbbrowser")
        do {
            driver = try ChromeDriver(namespace: namespace, logPath: scratch.file("chromedriver.log"))
            session = try driver.session(arguments: ChromeDriver.chromiumArguments(profile: scratch.file("profile"),
                                                                                 width: width, height: height))
        } catch {
            namespace.destroy()
            scratch.remove()
            throw error
        }
    }

    deinit { close() }

    /// The driver's log, for failure messages.
    public func driverLog(lines: Int = 30) -> String { tail(of: driver.logPath, lines: lines) }

    /// Ends the session (Chromium quits), stops the driver, kills whatever is left in the namespace
    /// and removes it and the profile. Idempotent.
    public func close() {
        if driver.isRunning { session.delete() }
        driver.stop()
        namespace.destroy()
        scratch.remove()
    }

    /// Processes still running from this browser: in its namespace, or with its profile or driver
    /// port on their command line (empty after `close`).
    public func leftovers() -> [String] {
        var found = namespace.pids().map { "pid \($0) in \(namespace.name)" }
        let profile = scratch.file("profile")
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        for pid in entries.compactMap({ Int32($0) }) {
            guard let raw = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline") else { continue }
            let line = String(decoding: raw.map { $0 == 0 ? 32 : $0 }, as: UTF8.self)
            if line.contains(profile) || (line.contains(ChromeDriver.driverPath) && line.contains(namespace.hostAddress)) {
                found.append("pid \(pid): \(line.prefix(200))")
            }
        }
        return found
    }
}
