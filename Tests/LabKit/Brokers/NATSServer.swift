import Foundation
import Synchronization

/// One real `nats-server` (Debian's package) with JetStream and its MQTT listener, bound to
/// 127.0.0.1 on free ports, its data in its own temp dir. NATS speaks MQTT 3.1.1 only: it answers
/// an MQTT 5 CONNECT with a 3.1.1-style CONNACK "unacceptable protocol version" (rc 1) and closes,
/// which makes it the suites' real broker for the protocol fallback.
public final class NATSServer: Sendable {
    /// The MQTT listener.
    public let port: Int
    public let host = "127.0.0.1"
    /// The NATS client listener (nothing of ours uses it, but the server needs one).
    public let clientPort: Int
    public let directory: TempDirectory
    public var logPath: String { directory.file("nats.log") }
    public var outputPath: String { directory.file("nats.out") }
    public var configPath: String { directory.file("nats.conf") }
    private let child = Mutex<ChildProcess?>(nil)

    public static var isInstalled: Bool {
        ["/usr/sbin/nats-server", "/usr/bin/nats-server", "/usr/local/bin/nats-server"]
            .contains { FileManager.default.isExecutableFile(atPath: $0) }
    }

    public init() throws {
        directory = try TempDirectory(prefix: "labkit-nats")
        port = freePort()
        clientPort = freePort()
    }

    deinit {
        child.withLock { $0?.kill9() }
        directory.remove()
    }

    public var isRunning: Bool { child.withLock { $0?.isRunning ?? false } }

    /// Starts the server and returns once an MQTT 3.1.1 client got its CONNACK (20 s timeout). The
    /// MQTT listener accepts TCP before JetStream has made the MQTT streams, and the first
    /// connection creates them (seen: 1.8 s on a cluster), so readiness is a real CONNECT.
    public func start() throws {
        // server_name is required for MQTT with JetStream; without http/cluster blocks nothing else
        // listens. Every listener is on loopback.
        let config = """
            server_name: labkit
            listen: \(host):\(clientPort)
            pid_file: "\(directory.file("nats.pid"))"
            log_file: "\(logPath)"
            jetstream {
              store_dir: "\(directory.file("js"))"
              max_memory_store: 64MB
              max_file_store: 256MB
            }
            mqtt {
              listen: \(host):\(port)
            }

            """
        try child.withLock { current in
            if current?.isRunning == true { return }
            try config.write(toFile: configPath, atomically: true, encoding: .utf8)
            guard let exe = ["/usr/sbin/nats-server", "/usr/bin/nats-server", "/usr/local/bin/nats-server"]
                .first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
                throw LabError("nats-server is not installed (scripts/install-deps.sh test installs it)")
            }
            current = try ChildProcess([exe, "-c", configPath], outputPath: outputPath)
        }
        var lastError = "no attempt"
        let ready = waitUntil(timeout: 20, interval: 0.1) {
            guard isRunning else { return true }
            do {
                let probe = try TestClient(protocolVersion: 311)
                try probe.connect(host: host, port: port, timeout: 5)
                probe.disconnect()
                return true
            } catch {
                lastError = "\(error)"
                return false
            }
        }
        guard ready, isRunning else {
            let why = isRunning ? "no MQTT CONNACK within 20 s (\(lastError))" : "exited during startup"
            kill9()
            throw LabError("nats-server on \(host):\(port) \(why)\n--- output:\n\(tail(of: outputPath))\n--- log:\n\(tail(of: logPath))")
        }
    }

    /// SIGKILL and reap.
    public func kill9() { child.withLock { $0?.kill9() } }

    /// SIGTERM (nats-server shuts down cleanly), SIGKILL after 10 s.
    public func terminate() { child.withLock { _ = $0?.terminate() } }
}
