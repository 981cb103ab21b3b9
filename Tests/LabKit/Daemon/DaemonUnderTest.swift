import Foundation

/// One daemon under test: its own state directory and base topic, talking to a broker the caller owns.
public final class DaemonUnderTest: Sendable {
    /// Reconnects in fractions of a second and a short keepalive, so tests that break the connection
    /// do not wait out the production backoff.
    public static let fastReconnect = ["mqtt.reconnect.min_delay": "0.2", "mqtt.reconnect.max_delay": "2",
                                       "mqtt.keepalive": "10"]

    /// `SB_TEST_PLUGIN_ISOLATION` (`process` or `inline`): the plugin mode of every daemon under test
    /// that does not set `plugins.isolation` itself, so a suite written once runs in both modes
    /// (`make test` runs the plugin suites a second time in the mode that is not the default).
    public static var pluginIsolation: String? {
        ProcessInfo.processInfo.environment["SB_TEST_PLUGIN_ISOLATION"].flatMap { $0.isEmpty ? nil : $0 }
    }

    public let state: TempDirectory
    public let base: String
    public let process: DaemonProcess
    public var topics: (state: String, events: String, speak: String) {
        ("\(base)/bridge/state", "\(base)/bridge/event/announcement", "\(base)/speak")
    }
    public var logPath: String { process.logPath }

    /// `settings` are `--set key=value` pairs laid over `defaults`; benchmarks pass `defaults: [:]`
    /// to measure the daemon as configured out of the box.
    /// `moreBrokers` (`host:port` entries) follow brokerHost:brokerPort as more `--broker` options:
    /// the daemon's `mqtt.brokers` list, tried in that order. (A single `--broker` clears
    /// `mqtt.brokers`, so a list must come this way rather than through `settings`.)
    public init(brokerHost: String = "127.0.0.1", brokerPort: Int, moreBrokers: [String] = [], settings: [String: String] = [:],
                defaults: [String: String] = DaemonUnderTest.fastReconnect, netns: String? = nil,
                stateDirectory: TempDirectory? = nil, base: String? = nil) throws {
        state = try stateDirectory ?? TempDirectory(prefix: "sbstate")
        self.base = base ?? "sbtest\(UInt32.random(in: 0...UInt32.max))"
        var all = defaults
        all["base_topic"] = self.base
        if let mode = DaemonUnderTest.pluginIsolation { all["plugins.isolation"] = mode }
        all.merge(settings) { $1 }
        var args = ["run", "--broker", "\(brokerHost):\(brokerPort)"] + moreBrokers.flatMap { ["--broker", $0] }
        args += ["--state-dir", state.path + "/state"]
        for (k, v) in all.sorted(by: { $0.key < $1.key }) { args += ["--set", "\(k)=\(v)"] }
        process = DaemonProcess(arguments: args, netns: netns, logPath: state.path + "/daemon.log")
    }

    public func start() throws { try process.start() }

    /// Another process of the same installation (same state directory and settings).
    public func sibling(brokerPort: Int, settings: [String: String] = [:]) throws -> DaemonUnderTest {
        try DaemonUnderTest(brokerPort: brokerPort, settings: settings, stateDirectory: state, base: base)
    }

    public func requestTopic(_ name: String) -> String { "\(base)/bridge/request/\(name)" }
    public func responseTopic(_ name: String) -> String { "\(base)/bridge/response/\(name)" }

    /// The daemon's log line for a connection: it is connected, though perhaps not yet subscribed.
    public func waitUntilConnected(timeout: Double = 20) throws {
        try process.waitForLog(containing: "mqtt: connected to", timeout: timeout)
    }

    public func log() -> String { process.log() }

    public func count(_ text: String) -> Int { log().components(separatedBy: text).count - 1 }

    /// SIGTERM, SIGKILL if it is still there after 10 s; then the state directory goes.
    public func stopAndRemoveState() {
        if process.isRunning {
            process.terminate()
            if process.waitForExit(timeout: 10) == nil { process.kill9() }
        }
        state.remove()
    }

    deinit {
        if process.isRunning {
            process.kill9()
            _ = process.waitForExit(timeout: 5)
        }
    }
}
