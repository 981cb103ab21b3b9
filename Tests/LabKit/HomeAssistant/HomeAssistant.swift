import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// A real Home Assistant (`hass --skip-pip`) from the pinned venv, with its own configuration
/// directory (kept across `restart()`, like a user's), listening on 127.0.0.1 only.
public final class HomeAssistant: Sendable {
    public let directory: TempDirectory
    public let port: Int
    public let venv: String
    public var url: String { "http://127.0.0.1:\(port)" }
    /// HA's own log file (`home-assistant.log` in the configuration directory).
    public var logPath: String { directory.file("home-assistant.log") }
    /// stdout/stderr of the process: Python errors before HA's logging is set up land here.
    public var outputPath: String { directory.file("hass.out") }

    private let child = Mutex<ChildProcess?>(nil)

    /// Integrations that would search or announce on the machine's networks. The minimal
    /// configuration loads none of them; `waitUntilRunning` checks that it stays so.
    static let networkScanners: Set<String> = ["ssdp", "zeroconf", "dhcp", "bluetooth", "usb", "cloud"]

    public init(venv: String) throws {
        self.venv = venv
        directory = try TempDirectory(prefix: "labkit-hass")
        port = freePort()
        let template = try String(contentsOfFile: PluginBuild.root + "/Tests/HomeAssistant/configuration.yaml", encoding: .utf8)
        try template.replacingOccurrences(of: "@PORT@", with: String(port))
            .write(toFile: directory.file("configuration.yaml"), atomically: true, encoding: .utf8)
    }

    deinit {
        child.withLock { $0?.kill9() }
        directory.remove()
    }

    public var isRunning: Bool { child.withLock { $0?.isRunning ?? false } }

    /// Starts hass; returns once its HTTP server answers (see `waitUntilRunning` for "started").
    public func start(timeout: Double = 90) throws {
        try child.withLock { current in
            if current?.isRunning == true { throw LabError("hass already running (pid \(current!.pid))") }
            var env = ProcessInfo.processInfo.environment
            // The venv is installed without byte code (half the install time); letting hass write it
            // on its first start makes every later start ~4 s faster. Some machines set this off.
            env.removeValue(forKey: "PYTHONDONTWRITEBYTECODE")
            current = try ChildProcess([venv + "/bin/hass", "--skip-pip", "-c", directory.path],
                                       environment: env, outputPath: outputPath)
        }
        let up = waitUntil(timeout: timeout, interval: 0.2) { !isRunning || (try? get("/api/onboarding").status) != nil }
        guard up, isRunning else {
            let why = isRunning ? "its HTTP server did not answer within \(Int(timeout)) s" : "it exited during startup"
            kill9()
            throw LabError("Home Assistant on port \(port): \(why)\n--- output:\n\(tail(of: outputPath))\n--- log:\n\(tail(of: logPath))")
        }
    }

    /// SIGTERM: HA stops its integrations and saves its stores (the auth store holding our token
    /// included), then exits; SIGKILL only if that takes longer than `timeout`.
    @discardableResult
    public func stop(timeout: Double = 60) -> Int32? {
        child.withLock { $0?.terminate(timeout: timeout) }
    }

    public func kill9() { child.withLock { $0?.kill9() } }

    /// Stops and starts again with the same configuration directory.
    public func restart() throws {
        stop()
        try start()
    }

    /// HA's log so far.
    public func log() -> String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }

    /// Warnings and errors that concern MQTT discovery: every WARNING/ERROR/CRITICAL record of the
    /// MQTT integration or of template rendering (a discovery config's templates run there), and any
    /// such record that names one of `mentioning` (our topics). A schema mistake in a discovery config
    /// shows up here as HA's own message ("Error '…' when processing MQTT discovery message topic …").
    /// A record runs until the next line that starts with a timestamp (tracebacks included).
    public func mqttProblems(mentioning: [String]) -> [String] {
        var records: [String] = []
        for line in log().split(separator: "\n", omittingEmptySubsequences: false) {
            if line.first?.isNumber == true || records.isEmpty {
                records.append(String(line))
            } else {
                records[records.count - 1] += "\n" + line
            }
        }
        let levels = [" WARNING (", " ERROR (", " CRITICAL ("]
        let loggers = ["[homeassistant.components.mqtt", "[homeassistant.helpers.template"]
        return records.filter { record in
            let head = record.prefix { $0 != "\n" }
            guard levels.contains(where: { head.contains($0) }) else { return false }
            return loggers.contains(where: { head.contains($0) }) || mentioning.contains(where: { record.contains($0) })
        }
    }

    /// An HTTP response from HA: status code and body.
    public struct Response: Sendable {
        public let status: Int
        public let body: String
        public var json: Any? { try? JSONSerialization.jsonObject(with: Data(body.utf8), options: [.fragmentsAllowed]) }
    }

    /// One request through curl (as the other labs do); a connection failure throws. `form` sends
    /// application/x-www-form-urlencoded fields (HA's /auth/token wants those), `body` JSON.
    public func request(_ method: String, _ path: String, token: String? = nil, body: Any? = nil,
                        form: [String: String]? = nil, timeout: Double = 30) throws -> Response {
        var args = ["curl", "-sS", "-m", String(Int(timeout)), "-X", method, "-w", "\n%{http_code}"]
        if let token { args += ["-H", "Authorization: Bearer \(token)"] }
        var input: String?
        if let body {
            args += ["-H", "Content-Type: application/json", "--data-binary", "@-"]
            input = String(decoding: try JSONSerialization.data(withJSONObject: body, options: [.fragmentsAllowed]), as: UTF8.self)
        } else if let form {
            for (key, value) in form.sorted(by: { $0.key < $1.key }) { args += ["--data-urlencode", "\(key)=\(value)"] }
        }
        args.append(url + path)
        let result = try Shell.run(args, input: input)
        guard result.status == 0 else { throw LabError("\(method) \(path): curl exited \(result.status): \(result.err)") }
        let out = result.out
        guard let newline = out.lastIndex(of: "\n"), let code = Int(out[out.index(after: newline)...]) else {
            throw LabError("\(method) \(path): no status in curl's output: \(out)")
        }
        return Response(status: code, body: String(out[..<newline]))
    }

    public func get(_ path: String, token: String? = nil) throws -> Response {
        try request("GET", path, token: token)
    }
}
