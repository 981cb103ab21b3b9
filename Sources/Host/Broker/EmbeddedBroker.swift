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
///
/// Only the daemon and its CLI get in by default (user `speakerbridge` and the password in the
/// state directory, see `EmbeddedBrokerCredentials`). `start()` runs before any other service: it
/// fails `run` when the port is taken, instead of letting the session talk to whatever listens
/// there. Afterwards `listenerProblem()` tells the session, before every connect, whether the port
/// is still held by the mosquitto we started (a squatter can take it while ours restarts).
public final class EmbeddedBroker: Service, Sendable {
    private let config: Configuration
    private let directory: String
    private let logger: Logger
    public let status: EmbeddedBrokerStatusBox
    /// Opened when `start()` saw mosquitto listen, failed when it could not start it.
    public let ready = Readiness<Void>()
    /// The mosquitto we started and saw listening; nil before `start()` and between a crash and a restart.
    private let current = Mutex<Launched?>(nil)

    private struct Launched: Sendable {
        let child: ChildProcess
        let exit: Task<Int32, Never>
    }

    private enum Launch: Sendable {
        case ready(Launched)
        case failed(String)
    }

    public init(config: Configuration, directory: String, logger: Logger, status: EmbeddedBrokerStatusBox = .init()) {
        self.config = config
        self.directory = directory
        self.logger = logger
        self.status = status
    }

    public var logPath: String { directory + "/mosquitto.log" }
    public var configPath: String { directory + "/mosquitto.conf" }
    /// Hashed, for mosquitto; the plain password is in `EmbeddedBrokerCredentials.passwordPath`.
    public var passwordFilePath: String { directory + "/mosquitto.passwd" }
    private var port: Int { config.embeddedBroker.port }

    /// The broker's configuration. `user` names us because mosquitto started as root otherwise
    /// switches to the `mosquitto` user and then cannot write its own files in our state directory.
    /// `message_size_limit` refuses oversized publishes at the broker, before they reach anyone.
    func configurationText() -> String {
        let user = String(cString: getpwuid(geteuid())?.pointee.pw_name ?? strdup("root"))
        return """
        # Written by speakerbridge on every start; edits are overwritten. Configure mqtt.host to use your own broker.
        listener \(port) 127.0.0.1
        allow_anonymous \(config.embeddedBroker.allowAnonymous)
        password_file \(passwordFilePath)
        message_size_limit \(config.mqtt.maxPayload)
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

    /// Writes the files, stops a broker left behind by a killed daemon, and starts mosquitto; returns
    /// once it listens on 127.0.0.1, with the login the session must use. Throws, with the reason,
    /// when the port is taken by another program or mosquitto does not come up.
    public func start() async throws -> EmbeddedBrokerCredentials {
        do {
            let credentials = try await launchFirst()
            ready.open()
            return credentials
        } catch {
            ready.fail("\(error)")
            throw error
        }
    }

    private func launchFirst() async throws -> EmbeddedBrokerCredentials {
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true,
                                                    attributes: [.posixPermissions: 0o700])
        } catch {
            throw EmbeddedBrokerError(description: "embedded broker: cannot create \(directory): \(error.localizedDescription)")
        }
        let executable = try resolveExecutable()
        let credentials: EmbeddedBrokerCredentials
        do {
            credentials = try EmbeddedBrokerCredentials.loadOrCreate(brokerDirectory: directory)
        } catch {
            throw EmbeddedBrokerError(description: "embedded broker: \(error.description)")
        }
        try await MosquittoPasswordFile.write(credentials, to: passwordFilePath, brokerExecutable: executable)
        try configurationText().write(toFile: configPath, atomically: true, encoding: .utf8)
        await stopOrphan()
        // Checked before spawning too: mosquitto's own complaint is less clear and says nothing of who.
        if let holder = LoopbackListener.describeHolder(port: port) {
            throw EmbeddedBrokerError(description: "embedded broker: \(portTaken(by: holder))")
        }
        switch await launch(executable) {
        case .ready(let launched):
            current.withLock { $0 = launched }
            status.update { $0.running = true; $0.lastError = nil }
            return credentials
        case .failed(let problem):
            status.update { $0.lastError = problem }
            throw EmbeddedBrokerError(description: "embedded broker: \(problem)")
        }
    }

    /// nil when 127.0.0.1:<port> is served by the mosquitto we started; otherwise why the session
    /// must not connect there now.
    public func listenerProblem() -> String? {
        guard let pid = current.withLock({ $0?.child.pid }) else {
            return "the embedded broker is not running (restarting); not connecting to 127.0.0.1:\(port) meanwhile"
        }
        if LoopbackListener.isOwned(port: port, by: pid) { return nil }
        let holder = LoopbackListener.describeHolder(port: port) ?? "nobody"
        return "127.0.0.1:\(port) is served by \(holder), not by our mosquitto (pid \(pid)); not connecting to it"
    }

    /// Supervises the broker `start()` launched: restarts it with backoff when it dies, and stops
    /// it on graceful shutdown (after the session, since services stop in reverse order).
    public func run() async throws {
        if current.withLock({ $0 }) == nil { _ = try await start() }
        let executable = try resolveExecutable()
        var delay = 1.0
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            guard let launched = current.withLock({ $0 }) else { break }
            let started = Date()
            logger.info("embedded broker: mosquitto (pid \(launched.child.pid)) on 127.0.0.1:\(port), files in \(directory)")
            let code = await withGracefulShutdownHandler {
                await launched.exit.value
            } onGracefulShutdown: {
                // The session has already said offline and disconnected: services stop in reverse order.
                launched.child.signal(SIGTERM)
            }
            current.withLock { $0 = nil }
            status.update { $0.running = false }
            if Task.isShuttingDownGracefully || Task.isCancelled { break }
            let problem = describeExit(code: code)
            status.update { $0.restarts += 1; $0.lastError = problem }
            if Date().timeIntervalSince(started) > 30 { delay = 1 }
            logger.error("embedded broker: mosquitto exited (\(problem)); restarting in \(Int(delay)) s")
            while !Task.isShuttingDownGracefully && !Task.isCancelled {
                let pause = delay
                try? await cancelWhenGracefulShutdown { try await Task.sleep(for: .seconds(pause)) }
                delay = min(delay * 2, 30)
                if Task.isShuttingDownGracefully || Task.isCancelled { break }
                switch await launch(executable) {
                case .ready(let next):
                    current.withLock { $0 = next }
                    status.update { $0.running = true }
                case .failed(let problem):
                    status.update { $0.lastError = problem }
                    logger.error("embedded broker: cannot restart mosquitto (\(problem)); the session waits; next attempt in \(Int(delay)) s")
                    continue
                }
                break
            }
        }
        logger.info("embedded broker: stopped")
    }

    /// Starts mosquitto and waits until it listens on 127.0.0.1:<port> (its own socket, checked in
    /// /proc), exits, or takes too long.
    private func launch(_ executable: String) async -> Launch {
        let child: ChildProcess
        // Only this start's complaints: an old "Address already in use" must not explain a new exit.
        truncate(directory + "/mosquitto.stderr", 0)
        do {
            child = try ChildProcess(executable: executable, arguments: ["-c", configPath],
                                     outputPath: directory + "/mosquitto.stderr")
        } catch {
            return .failed("cannot start mosquitto: \(error)")
        }
        let exitCode = Mutex<Int32?>(nil)
        let exit = Task<Int32, Never> {
            let code = await child.exitStatus()
            exitCode.withLock { $0 = code }
            return code
        }
        let deadline = Date().addingTimeInterval(10)
        while true {
            if LoopbackListener.isOwned(port: port, by: child.pid) {
                return .ready(Launched(child: child, exit: exit))
            }
            if exitCode.withLock({ $0 }) != nil {
                return .failed(describeExit(code: await exit.value))
            }
            if Date() > deadline || Task.isShuttingDownGracefully || Task.isCancelled {
                child.signal(SIGKILL)
                _ = await exit.value
                return .failed("mosquitto did not listen on 127.0.0.1:\(port) within 10 s")
            }
            try? await Task.sleep(for: .milliseconds(20))
        }
    }

    private func portTaken(by holder: String) -> String {
        "port \(port) on 127.0.0.1 is already in use by another program (\(holder)); set embedded_broker.port, or point mqtt.host at the broker that is running there"
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

    private func describeExit(code: Int32) -> String {
        let stderr = (try? String(contentsOfFile: directory + "/mosquitto.stderr", encoding: .utf8))?
            .split(separator: "\n").suffix(3).joined(separator: " | ") ?? ""
        let logTail = (try? String(contentsOfFile: logPath, encoding: .utf8))?
            .split(separator: "\n").suffix(3).joined(separator: " | ") ?? ""
        let detail = [stderr.trimmingCharacters(in: .whitespacesAndNewlines), logTail].filter { !$0.isEmpty }.joined(separator: " | ")
        if detail.contains("Address already in use") {
            return portTaken(by: LoopbackListener.describeHolder(port: port) ?? "gone again")
        }
        return "exit status \(code)" + (detail.isEmpty ? "" : ": \(detail)")
    }
}

public struct EmbeddedBrokerError: Error, CustomStringConvertible {
    public let description: String
}
