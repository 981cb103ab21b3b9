import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// The speakerbridge binary as a child process, with stdout+stderr appended to a log file.
public final class DaemonProcess: Sendable {
    public let arguments: [String]
    public let environment: [String: String]
    public let netns: String?
    public let logPath: String
    private let child = Mutex<ChildProcess?>(nil)

    public init(arguments: [String], environment: [String: String] = [:], netns: String? = nil, logPath: String) {
        self.arguments = arguments
        self.environment = environment
        self.netns = netns
        self.logPath = logPath
    }

    deinit { child.withLock { $0?.kill9() } }

    /// `SPEAKERBRIDGE_BIN`, else `.build/debug/speakerbridge` then `.build/release/speakerbridge`
    /// in the current directory, the test bundle's directory or any of their parents.
    public static func binaryPath() throws -> String {
        let env = ProcessInfo.processInfo.environment
        if let bin = env["SPEAKERBRIDGE_BIN"], !bin.isEmpty {
            guard FileManager.default.isExecutableFile(atPath: bin) else { throw LabError("SPEAKERBRIDGE_BIN=\(bin) is not executable") }
            return bin
        }
        var starts = [FileManager.default.currentDirectoryPath, Bundle.main.bundlePath]
        let exe = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().path
        starts.append(exe)
        // The test runner lives next to the products (.build/<triple>/debug/...): try there first.
        for dir in [Bundle.main.bundlePath, exe] where FileManager.default.isExecutableFile(atPath: dir + "/speakerbridge") {
            return dir + "/speakerbridge"
        }
        for start in starts {
            var dir = URL(fileURLWithPath: start).standardizedFileURL
            while true {
                for config in ["debug", "release"] {
                    let candidate = dir.appendingPathComponent(".build/\(config)/speakerbridge").path
                    if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
                }
                let parent = dir.deletingLastPathComponent()
                if parent.path == dir.path { break }
                dir = parent
            }
        }
        throw LabError("speakerbridge binary not found: set SPEAKERBRIDGE_BIN or run `swift build` (searched up from \(starts))")
    }

    /// Starts the daemon; the child gets our environment plus `environment`.
    public func start() throws {
        let bin = try DaemonProcess.binaryPath()
        try child.withLock { current in
            if current?.isRunning == true { throw LabError("daemon already running (pid \(current!.pid))") }
            var args = [bin] + arguments
            if let netns { args = ["/usr/bin/env", "ip", "netns", "exec", netns] + args }
            var env = ProcessInfo.processInfo.environment
            // Daemons run side by side here (and beside other test runs): each admin listener takes a
            // free port (see AdminEndpoint) instead of all fighting over 8180. A flag still wins.
            env["SPEAKERBRIDGE_ADMIN_PORT"] = env["SPEAKERBRIDGE_ADMIN_PORT"] ?? "0"
            env.merge(environment) { _, new in new }
            current = try ChildProcess(args, environment: env, outputPath: logPath)
        }
    }

    public var pid: Int32? { child.withLock { $0?.pid } }
    public var isRunning: Bool { child.withLock { $0?.isRunning ?? false } }

    /// SIGKILL: a crash, as far as the daemon can tell.
    public func kill9() { child.withLock { $0?.kill9() } }
    /// SIGTERM: asks for a graceful shutdown; use `waitForExit` to see how it went.
    public func terminate() { child.withLock { $0?.send(SIGTERM) } }

    /// Exit status (128+signal if killed by one), or nil if still running after `timeout`.
    public func waitForExit(timeout: Double) -> Int32? {
        guard let process = child.withLock({ $0 }) else { return nil }
        return process.waitForExit(timeout: timeout)
    }

    /// Everything the daemon (all runs sharing this log file) wrote so far.
    public func log() -> String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }

    public func waitForLog(containing text: String, timeout: Double = 10) throws {
        guard waitUntil(timeout: timeout, interval: 0.02, { log().contains(text) }) else {
            throw LabError("daemon log has no \"\(text)\" after \(timeout) s (running: \(isRunning))\n--- log tail:\n\(tail(of: logPath))")
        }
    }

    /// One-shot CLI run (`speakerbridge health`, ...): combined stdout+stderr and exit status.
    /// Throws if the binary is missing or it runs longer than `timeout` (it is killed then).
    public static func run(arguments: [String], environment: [String: String] = [:],
                           timeout: Double = 30) throws -> (status: Int32, output: String) {
        let dir = try TempDirectory(prefix: "labkit-run")
        defer { dir.remove() }
        let daemon = DaemonProcess(arguments: arguments, environment: environment, logPath: dir.file("output"))
        try daemon.start()
        guard let status = daemon.waitForExit(timeout: timeout) else {
            daemon.kill9()
            throw LabError("speakerbridge \(arguments.joined(separator: " ")) still running after \(timeout) s:\n\(daemon.log())")
        }
        return (status, daemon.log())
    }
}
