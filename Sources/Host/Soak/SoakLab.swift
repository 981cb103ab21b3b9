import Foundation

/// The private world of `speakerbridge soak --start-daemon`: a mosquitto of its own on a free
/// 127.0.0.1 port (persistent, with a generated password) and a daemon — this very binary — with
/// its own state directory, so the soak may restart the broker and `kill -9` the daemon without
/// touching anything else. Network safety: the broker listens on loopback only, and the daemon runs
/// with `network.interface=lo` and `media.bind=127.0.0.1`, so no plugin multicasts on the LAN.
final class SoakLab {
    struct Failure: Error, CustomStringConvertible { let description: String }

    let directory: String
    let port: Int
    let base: String
    let binary: String
    let pluginPath: String
    let extraSettings: [String: String]
    private var broker: ChildProcess?
    private var daemon: ChildProcess?

    static let username = "soak"
    var passwordFile: String { directory + "/password" }
    var daemonLog: String { directory + "/daemon.log" }
    var brokerLog: String { directory + "/mosquitto.log" }

    init(pluginPath: String, extraSettings: [String: String]) throws {
        var template = Array((NSTemporaryDirectory() as NSString).appendingPathComponent("speakerbridge-soak-XXXXXX").utf8CString)
        guard let made = mkdtemp(&template) else { throw Failure(description: "cannot create a temporary directory: \(String(cString: strerror(errno)))") }
        directory = String(cString: made)
        port = try SoakLab.freeLoopbackPort()
        base = "soak\(UInt32.random(in: 0...UInt32.max))"
        binary = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        self.pluginPath = pluginPath
        self.extraSettings = extraSettings
        try writeBrokerFiles()
    }

    /// The configuration the soak's own client uses to reach the private broker.
    func clientConfiguration() throws -> Configuration {
        try ConfigLoader.load(file: nil, environment: [:], flags: [
            "mqtt.host": "127.0.0.1", "mqtt.port": String(port), "mqtt.username": SoakLab.username,
            "mqtt.password_file": passwordFile, "base_topic": base,
        ])
    }

    private func writeBrokerFiles() throws {
        let password = (0..<4).map { _ in String(UInt64.random(in: 0...UInt64.max), radix: 36) }.joined()
        guard FileManager.default.createFile(atPath: passwordFile, contents: Data(password.utf8), attributes: [.posixPermissions: 0o600]) else {
            throw Failure(description: "cannot write \(passwordFile)")
        }
        let hashed = directory + "/mosquitto.passwd"
        let tool = Process()
        tool.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        tool.arguments = ["mosquitto_passwd", "-b", "-c", hashed, SoakLab.username, password]
        tool.standardOutput = FileHandle.nullDevice
        tool.standardError = FileHandle.nullDevice
        do { try tool.run() } catch { throw Failure(description: "cannot run mosquitto_passwd (apt-get install mosquitto): \(error)") }
        tool.waitUntilExit()
        guard tool.terminationStatus == 0 else { throw Failure(description: "mosquitto_passwd failed with status \(tool.terminationStatus)") }
        let user = String(cString: getpwuid(geteuid())?.pointee.pw_name ?? strdup("root"))
        try FileManager.default.createDirectory(atPath: directory + "/broker", withIntermediateDirectories: true)
        try """
        listener \(port) 127.0.0.1
        allow_anonymous false
        password_file \(hashed)
        user \(user)
        set_tcp_nodelay true
        persistence true
        persistence_location \(directory)/broker/
        autosave_interval 5
        persistent_client_expiration 1d
        max_queued_messages 0
        log_dest file \(brokerLog)
        log_type error
        log_type warning
        log_type notice

        """.write(toFile: directory + "/mosquitto.conf", atomically: true, encoding: .utf8)
    }

    // MARK: broker

    /// Whether something listens on 127.0.0.1:`port`, read from the kernel's socket table rather
    /// than by connecting, which would put a connection without CONNECT in the broker's log.
    static func listening(port: Int) -> Bool {
        let local = "0100007F:" + String(format: "%04X", port)
        let table = (try? String(contentsOfFile: "/proc/net/tcp", encoding: .utf8)) ?? ""
        return table.split(separator: "\n").contains { line in
            let fields = line.split(separator: " ")
            return fields.count > 3 && fields[1] == local && fields[3] == "0A"  // 0A: LISTEN
        }
    }

    func startBroker() throws {
        broker = try ChildProcess(executable: try SoakLab.find("mosquitto"), arguments: ["-c", directory + "/mosquitto.conf"],
                                  outputPath: directory + "/mosquitto.out")
        let deadline = Date().addingTimeInterval(10)
        while Date() < deadline {
            if SoakLab.listening(port: port) { return }
            if let b = broker, SoakLab.reap(b.pid, wait: 0) != nil {
                throw Failure(description: "mosquitto exited during startup: \(SoakLab.tail(directory + "/mosquitto.out"))")
            }
            usleep(20_000)
        }
        throw Failure(description: "mosquitto is not listening on 127.0.0.1:\(port) after 10 s")
    }

    /// SIGTERM (mosquitto saves its sessions and queued messages) and start again on the same port.
    func restartBroker() throws {
        if let b = broker { SoakLab.stop(b.pid, grace: 10) }
        broker = nil
        try startBroker()
    }

    // MARK: daemon

    var daemonArguments: [String] {
        var settings = extraSettings
        let own: [String: String] = [
            "base_topic": base, "mqtt.username": SoakLab.username, "mqtt.password_file": passwordFile,
            "plugins.path": pluginPath, "mqtt.reconnect.min_delay": "0.2", "mqtt.reconnect.max_delay": "2",
            // Network safety: whatever else was asked for, nothing of this daemon leaves the machine.
            "network.interface": "lo", "media.bind": "127.0.0.1",
            // Beside a daemon already running on this machine (which holds admin.port 8180).
            "admin.port": "0",
        ]
        settings.merge(own) { _, ours in ours }
        return ["run", "--broker", "127.0.0.1:\(port)", "--state-dir", directory + "/state"]
            + settings.sorted { $0.key < $1.key }.flatMap { ["--set", "\($0.key)=\($0.value)"] }
    }

    func startDaemon() throws {
        daemon = try ChildProcess(executable: binary, arguments: daemonArguments, outputPath: daemonLog)
    }

    var daemonRunning: Bool {
        guard let d = daemon else { return false }
        return SoakLab.reap(d.pid, wait: 0) == nil
    }

    /// `kill -9`: a crash, as far as the daemon can tell.
    func killDaemon() {
        guard let d = daemon else { return }
        d.signal(SIGKILL)
        _ = SoakLab.reap(d.pid, wait: 10)
        daemon = nil
    }

    /// Stops the daemon, then the broker, politely.
    func stop() {
        if let d = daemon { SoakLab.stop(d.pid, grace: 15) }
        daemon = nil
        if let b = broker { SoakLab.stop(b.pid, grace: 10) }
        broker = nil
    }

    func remove() { try? FileManager.default.removeItem(atPath: directory) }

    // MARK: helpers

    /// Exit status once the process has ended (waiting up to `wait` seconds), nil while it runs.
    static func reap(_ pid: pid_t, wait: Double) -> Int32? {
        let deadline = Date().addingTimeInterval(wait)
        repeat {
            var status: Int32 = 0
            let rc = waitpid(pid, &status, WNOHANG)
            if rc == pid || (rc < 0 && errno == ECHILD) { return status }
            if wait > 0 { usleep(10_000) }
        } while Date() < deadline
        return nil
    }

    static func stop(_ pid: pid_t, grace: Double) {
        kill(pid, SIGTERM)
        if reap(pid, wait: grace) == nil {
            kill(pid, SIGKILL)
            _ = reap(pid, wait: 5)
        }
    }

    static func find(_ name: String) throws -> String {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        for dir in (path + ":/usr/sbin:/sbin").split(separator: ":") where FileManager.default.isExecutableFile(atPath: "\(dir)/\(name)") {
            return "\(dir)/\(name)"
        }
        throw Failure(description: "\(name) is not installed (apt-get install mosquitto)")
    }

    static func tail(_ path: String, lines: Int = 20) -> String {
        ((try? String(contentsOfFile: path, encoding: .utf8)) ?? "").split(separator: "\n").suffix(lines).joined(separator: "\n")
    }

    static func freeLoopbackPort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw Failure(description: "socket: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        let ok = withUnsafeMutablePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, len) == 0 && getsockname(fd, $0, &len) == 0 }
        }
        guard ok else { throw Failure(description: "cannot find a free port: \(String(cString: strerror(errno)))") }
        return Int(UInt16(bigEndian: addr.sin_port))
    }
}
