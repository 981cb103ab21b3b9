import Foundation
import Synchronization

/// An amqtt broker (the Python one, from the venv `scripts/install-deps.sh brokers` makes) on a free
/// port of 127.0.0.1, config and output in a fresh temp dir.
///
/// Anonymous clients are refused (`allow_anonymous: false`): amqtt keeps no offline queue for an
/// anonymous session, even with a user name, so a client that wants its QoS 1 messages while away
/// must send a user name (any: there is no password check). amqtt speaks only MQTT 3.1.1, and a v5
/// CONNECT with properties or a user name gets no answer at all; it also replays a session's queued
/// messages with the retain flag set.
public final class AMQTTBroker: Sendable {
    public let port: Int
    public let directory: TempDirectory
    /// The user name the readiness check sends (clients need one, see above).
    public let username = "labkit"
    public var address: String { "127.0.0.1:\(port)" }
    public var outputPath: String { directory.file("amqtt.log") }
    var configPath: String { directory.file("amqtt.yaml") }
    private let venv: String
    private let child = Mutex<ChildProcess?>(nil)

    /// `SB_TEST_AMQTT_VENV`, else out/amqtt-venv above the current directory (the Makefile's).
    public static func venvPath() throws -> String {
        if let path = ProcessInfo.processInfo.environment["SB_TEST_AMQTT_VENV"], !path.isEmpty {
            guard FileManager.default.isExecutableFile(atPath: path + "/bin/amqtt") else {
                throw LabError("SB_TEST_AMQTT_VENV=\(path) has no bin/amqtt: run scripts/install-deps.sh brokers")
            }
            return path
        }
        var dir = URL(fileURLWithPath: FileManager.default.currentDirectoryPath).standardizedFileURL
        while true {
            let candidate = dir.appendingPathComponent("out/amqtt-venv").path
            if FileManager.default.isExecutableFile(atPath: candidate + "/bin/amqtt") { return candidate }
            let parent = dir.deletingLastPathComponent()
            if parent.path == dir.path { break }
            dir = parent
        }
        throw LabError("no amqtt venv (out/amqtt-venv or SB_TEST_AMQTT_VENV): run scripts/install-deps.sh brokers")
    }

    public init() throws {
        venv = try Self.venvPath()
        directory = try TempDirectory(prefix: "labkit-amqtt")
        port = freePort()
        let config = """
            listeners:
              default:
                type: tcp
                bind: 127.0.0.1:\(port)
            plugins:
              amqtt.plugins.logging_amqtt.EventLoggerPlugin:
              amqtt.plugins.authentication.AnonymousAuthPlugin:
                allow_anonymous: false
            """
        try (config + "\n").write(toFile: configPath, atomically: true, encoding: .utf8)
    }

    deinit { stop() }

    public var isRunning: Bool { child.withLock { $0?.isRunning ?? false } }

    /// Starts amqtt (its script execs the venv's Python, so the pid we hold is the broker's) and
    /// returns once it accepts an MQTT 3.1.1 CONNECT with a user name. Returns the seconds it took.
    @discardableResult
    public func start(timeout: Double = 30) throws -> Double {
        let begin = ContinuousClock.now
        try child.withLock { current in
            if current?.isRunning == true { return }
            current = try ChildProcess([venv + "/bin/amqtt", "-c", configPath], outputPath: outputPath)
        }
        do {
            try MQTTHandshake.waitUntilAccepting(port: port, username: username, timeout: timeout,
                                                 alive: { self.isRunning }, what: "amqtt")
        } catch {
            stop()
            throw LabError("\(error)\n\(tail(of: outputPath))")
        }
        return seconds(since: begin)
    }

    /// SIGTERM (amqtt takes 1-2 s to exit), SIGKILL after 10 s; then the temp dir goes.
    public func stop() {
        child.withLock { $0?.terminate(timeout: 10); $0 = nil }
        directory.remove()
    }
}
