import Foundation
import Logging
import ServiceLifecycle
import Synchronization

public struct EmbeddedBrokerStatus: Sendable, Equatable {
    public var running = false
    public var restarts = 0
    public var lastError: String? = nil
}

public final class EmbeddedBrokerStatusBox: Sendable {
    private let value = Mutex(EmbeddedBrokerStatus())
    public init() {}
    public var current: EmbeddedBrokerStatus { value.withLock { $0 } }
    func update(_ body: (inout EmbeddedBrokerStatus) -> Void) { value.withLock { body(&$0) } }
}

/// A private mosquitto for users who have no broker: bound to 127.0.0.1, persistent, supervised
/// (restarted when it dies), stopped after the session has said goodbye.
public final class EmbeddedBroker: Service, Sendable {
    private let config: Configuration
    private let directory: String
    private let logger: Logger
    public let status: EmbeddedBrokerStatusBox

    public init(config: Configuration, directory: String, logger: Logger, status: EmbeddedBrokerStatusBox = .init()) {
        self.config = config
        self.directory = directory
        self.logger = logger
        self.status = status
    }

    public var logPath: String { directory + "/mosquitto.log" }
    public var configPath: String { directory + "/mosquitto.conf" }

    /// The broker's configuration. `user` names us because mosquitto started as root otherwise
    /// switches to the `mosquitto` user and then cannot write its own files in our state directory.
    func configurationText() -> String {
        let user = String(cString: getpwuid(geteuid())?.pointee.pw_name ?? strdup("root"))
        return """
        # Written by speakerbridge on every start; edits are overwritten. Configure mqtt.host to use your own broker.
        listener \(config.embeddedBroker.port) 127.0.0.1
        allow_anonymous true
        set_tcp_nodelay true
        user \(user)
        persistence true
        persistence_location \(directory)/
        autosave_interval 5
        persistent_client_expiration 14d
        max_queued_messages 100000
        pid_file \(directory)/mosquitto.pid
        log_dest file \(logPath)
        log_type error
        log_type warning
        log_type notice
        log_timestamp_format %Y-%m-%dT%H:%M:%S

        """
    }

    public func run() async throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true,
                                                attributes: [.posixPermissions: 0o700])
        try configurationText().write(toFile: configPath, atomically: true, encoding: .utf8)
        await stopOrphan()
        var delay = 1.0
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            let child: ChildProcess
            do {
                child = try ChildProcess(executable: try resolveExecutable(), arguments: ["-c", configPath],
                                         outputPath: directory + "/mosquitto.stderr")
            } catch {
                throw EmbeddedBrokerError(description: "cannot start the embedded broker: \(error)")
            }
            let started = Date()
            status.update { $0.running = true }
            logger.info("embedded broker: mosquitto (pid \(child.pid)) on 127.0.0.1:\(config.embeddedBroker.port), files in \(directory)")
            let code = await withGracefulShutdownHandler {
                await child.exitStatus()
            } onGracefulShutdown: {
                // The session has already said offline and disconnected: services stop in reverse order.
                child.signal(SIGTERM)
            }
            status.update { $0.running = false }
            if Task.isShuttingDownGracefully || Task.isCancelled { break }
            let stderrText = (try? String(contentsOfFile: directory + "/mosquitto.stderr", encoding: .utf8))?
                .split(separator: "\n").suffix(3).joined(separator: " | ") ?? ""
            let problem = describeExit(code: code, stderr: stderrText)
            status.update { $0.restarts += 1; $0.lastError = problem }
            if Date().timeIntervalSince(started) > 30 { delay = 1 }
            logger.error("embedded broker: mosquitto exited (\(problem)); restarting in \(Int(delay)) s")
            try? await Task.sleep(for: .seconds(delay))
            delay = min(delay * 2, 30)
        }
        logger.info("embedded broker: stopped")
    }

    /// A daemon killed with -9 leaves its broker running, holding the port and our persistence file.
    /// Stop it (it is ours: its command line names our config file) so the new one can take over.
    private func stopOrphan() async {
        guard let text = try? String(contentsOfFile: directory + "/mosquitto.pid", encoding: .utf8),
              let pid = pid_t(text.trimmingCharacters(in: .whitespacesAndNewlines)),
              let cmdline = try? String(contentsOfFile: "/proc/\(pid)/cmdline", encoding: .utf8),
              cmdline.contains(configPath) else { return }
        logger.notice("embedded broker: stopping the broker left behind by an earlier run (pid \(pid))")
        kill(pid, SIGTERM)
        for _ in 0..<50 {
            if kill(pid, 0) != 0 { return }
            try? await Task.sleep(for: .milliseconds(100))
        }
        kill(pid, SIGKILL)
        try? await Task.sleep(for: .milliseconds(200))
    }

    private func resolveExecutable() throws -> String {
        let name = config.embeddedBroker.executable
        if name.contains("/") { return name }
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        for dir in (path + ":/usr/sbin:/sbin").split(separator: ":") {
            let candidate = "\(dir)/\(name)"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        throw EmbeddedBrokerError(description: "the embedded broker needs mosquitto, which is not installed (apt-get install mosquitto), or configure mqtt.host to use an existing broker")
    }

    private func describeExit(code: Int32, stderr: String) -> String {
        let logTail = (try? String(contentsOfFile: logPath, encoding: .utf8))?
            .split(separator: "\n").suffix(3).joined(separator: " | ") ?? ""
        let detail = [stderr.trimmingCharacters(in: .whitespacesAndNewlines), logTail].filter { !$0.isEmpty }.joined(separator: " | ")
        if detail.contains("Address already in use") {
            return "port \(config.embeddedBroker.port) on 127.0.0.1 is already in use: set embedded_broker.port, or point mqtt.host at the broker that is running there"
        }
        return "exit status \(code)" + (detail.isEmpty ? "" : ": \(detail)")
    }
}

public struct EmbeddedBrokerError: Error, CustomStringConvertible {
    public let description: String
}
