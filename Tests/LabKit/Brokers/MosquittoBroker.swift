import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// A real `mosquitto` broker process with its own temp dir (config, log, persistence).
public final class MosquittoBroker: Sendable {
    public let port: Int
    public let host: String
    public let netns: String?
    public let directory: TempDirectory
    public var logPath: String { directory.file("mosquitto.log") }
    /// stdout/stderr of the process: config errors appear here before `log_dest` takes effect.
    public var outputPath: String { directory.file("mosquitto.out") }
    public var configPath: String { directory.file("mosquitto.conf") }

    private let configLines: [String]
    private let child = Mutex<ChildProcess?>(nil)

    /// - port: 0 picks a free port (on 127.0.0.1; inside a fresh namespace every port is free).
    /// - persistence: keep sessions and queued messages in the temp dir across `restart()`.
    ///   mosquitto only writes its database every `autosave_interval` (1 s here, but in practice
    ///   up to ~2 s: whole-second clock, strict comparison) and on clean shutdown, so `kill9()`
    ///   loses whatever changed since: a session created <2 s before the kill is gone.
    /// - persistEveryChange: with persistence, save the database after every change
    ///   (`autosave_on_changes true`). Without it a kill9 loses messages the broker already
    ///   PUBACKed but had not delivered or saved (seen: 8-16 of 1000 at 1 s autosave).
    /// - tls: the listener requires TLS; client certificates are optional.
    /// - netns: run the broker inside this network namespace (bindAddress must live there).
    public init(port: Int = 0, bindAddress: String = "127.0.0.1", persistence: Bool = false, persistEveryChange: Bool = false,
                tls: (caFile: String, certFile: String, keyFile: String)? = nil,
                netns: String? = nil, extraConfig: [String] = []) throws {
        // Network safety: outside a lab namespace only loopback is allowed, so no test traffic can
        // reach the machine's real interfaces.
        guard netns != nil || isLoopback(bindAddress) else {
            throw LabError("bindAddress \(bindAddress) needs netns: outside a lab only 127.0.0.0/8 is allowed")
        }
        directory = try TempDirectory(prefix: "labkit-mosquitto")
        self.port = port == 0 ? freePort() : port
        host = bindAddress
        self.netns = netns
        var lines = [
            // Started as root, mosquitto drops to user `mosquitto` unless told otherwise, and then
            // silently fails to write its log and persistence file in our root-owned temp dir.
            "user \(MosquittoBroker.effectiveUserName())",
            "allow_anonymous true",
            "set_tcp_nodelay true",
            // mosquitto silently drops QoS 1 messages for a subscriber past 1000 queued by
            // default; the tests' watchers receive tens of thousands in bursts.
            "max_queued_messages 0",
            "log_dest file \(directory.file("mosquitto.log"))",
            "log_type all",
            "log_timestamp_format %H:%M:%S",
            "listener \(self.port) \(bindAddress)",
        ]
        if let tls {
            lines += ["cafile \(tls.caFile)", "certfile \(tls.certFile)", "keyfile \(tls.keyFile)",
                      "require_certificate false"]
        }
        if persistence {
            lines += ["persistence true", "persistence_location \(directory.path)/",
                      "autosave_interval 1", "persistent_client_expiration 1d"]
            if persistEveryChange { lines.append("autosave_on_changes true") }
        }
        configLines = lines + extraConfig
    }

    deinit {
        child.withLock { $0?.kill9() }
        directory.remove()
    }

    public var isRunning: Bool { child.withLock { $0?.isRunning ?? false } }

    /// Starts the broker and returns once its listener accepts TCP connections (10 s timeout).
    public func start() throws {
        try child.withLock { current in
            if current?.isRunning == true { return }
            try (configLines.joined(separator: "\n") + "\n").write(toFile: configPath, atomically: true, encoding: .utf8)
            var args = ["mosquitto", "-c", configPath]
            // `ip netns exec` execs the command directly, so the pid we hold is mosquitto's.
            if let netns { args = ["ip", "netns", "exec", netns] + args }
            current = try ChildProcess(args, outputPath: outputPath)
        }
        let ready = waitUntil(timeout: 10, interval: 0.02) { isListening() || !isRunning }
        guard ready, isRunning else {
            let why = isRunning ? "not listening after 10 s" : "exited during startup"
            kill9()
            throw LabError("mosquitto on \(host):\(port) \(why)\n--- output:\n\(tail(of: outputPath))\n--- log:\n\(tail(of: logPath))")
        }
    }

    /// How many times a client with this id connected, from the broker's log (`log_type all` logs
    /// "New client connected from 127.0.0.1:40000 as <id> (p2, c1, k10)." for each): 1 for a whole
    /// test means the client never lost its session, whatever happened meanwhile.
    public func connections(of clientID: String) -> Int {
        let log = (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? ""
        return log.split(separator: "\n").filter { $0.contains("New client connected") && $0.contains(" as \(clientID) (") }.count
    }

    /// SIGKILL: no clean shutdown, no final persistence save, no DISCONNECTs to clients.
    public func kill9() { child.withLock { $0?.kill9() } }

    /// SIGTERM: mosquitto saves its persistence database and exits.
    public func terminate() { child.withLock { _ = $0?.terminate() } }

    /// Stops (SIGTERM) if running, then starts again on the same port with the same persistence dir.
    /// Port reuse right after kill9 works because mosquitto sets SO_REUSEADDR on its listener.
    public func restart() throws {
        terminate()
        try start()
    }

    /// Alias for kill9, for symmetry with `start`.
    public func stop() { kill9() }

    private func isListening() -> Bool {
        let probeHost = host
        guard let netns else { return tcpConnects(host: probeHost, port: port) }
        // Our process is not in the namespace: probe from inside it.
        let probe = try? Shell.run(["ip", "netns", "exec", netns, "bash", "-c",
                                    "exec 3<>/dev/tcp/\(probeHost)/\(port)"])
        return probe?.status == 0
    }

    static func effectiveUserName() -> String {
        if let pw = getpwuid(geteuid()), let name = pw.pointee.pw_name { return String(cString: name) }
        return "root"
    }
}
