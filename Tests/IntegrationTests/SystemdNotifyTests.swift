import Foundation
import LabKit
import Synchronization
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// The daemon under a service manager: the test plays systemd's side of `NOTIFY_SOCKET` (a unix
/// datagram socket, by path and in the abstract namespace) against the real daemon, a real broker
/// and the log speaker.
final class SystemdNotifyTests: XCTestCase {
    func testReadyWaitsForTheBrokerAndThePluginsAndStatusFollowsTheConnection() throws {
        let dirs = try TempDirectory(prefix: "sbnotify")
        defer { dirs.remove() }
        let listener = try SystemdNotifyListener(path: dirs.file("notify.sock"))
        defer { listener.stop() }
        let broker = try MosquittoBroker()  // not started yet: the daemon starts without a broker
        let daemon = try NotifiedDaemon(brokerPort: broker.port, environment: ["NOTIFY_SOCKET": listener.address])
        defer { daemon.stop() }
        try daemon.process.start()

        let name = "127.0.0.1:\(broker.port)"
        // The plugins load while the broker is away: the status says so, READY=1 still waits.
        try listener.waitFor("a status with the plugins loaded and the broker unreachable") {
            $0.value("STATUS")?.hasPrefix("reconnecting to \(name): unreachable") == true
                && $0.value("STATUS")?.hasSuffix("; 2 speakers") == true
        }
        Thread.sleep(forTimeInterval: 1.5)
        XCTAssertFalse(listener.notifications.contains { $0.has("READY=1") }, "READY=1 before the broker was up:\n\(listener.transcript)")

        let brokerUp = ContinuousClock.now
        try broker.start()
        let (readyIndex, ready) = try listener.waitFor("READY=1") { $0.has("READY=1") }
        XCTAssertGreaterThan(ready.at, brokerUp)
        XCTAssertEqual(ready.value("STATUS"), "connected to \(name); 2 speakers")
        XCTAssertTrue(daemon.log().contains("mqtt: connected to \(name)"), daemon.log())

        // A lost broker shows in the status, and coming back needs no second READY=1.
        broker.kill9()
        try listener.waitFor(after: readyIndex + 1, "a reconnecting status") {
            $0.value("STATUS")?.hasPrefix("reconnecting to \(name): ") == true
        }
        try broker.start()
        try listener.waitFor(after: readyIndex + 1, "a connected status again") {
            $0.value("STATUS") == "connected to \(name); 2 speakers"
        }
        XCTAssertEqual(listener.notifications.filter { $0.has("READY=1") }.count, 1, listener.transcript)

        daemon.process.terminate()
        XCTAssertEqual(daemon.process.waitForExit(timeout: 15), 0, daemon.log())
        try listener.waitFor("STOPPING=1") { $0.has("STOPPING=1") }
    }

    func testWatchdogPingsAtHalfTheTimeoutConnectedOrNot() throws {
        let listener = try SystemdNotifyListener(path: nil)
        defer { listener.stop() }
        let broker = try MosquittoBroker()
        try broker.start()
        // 2 s timeout: a ping every second.
        let daemon = try NotifiedDaemon(brokerPort: broker.port, environment: ["NOTIFY_SOCKET": listener.address,
                                                                               "WATCHDOG_USEC": "2000000"])
        defer { daemon.stop() }
        try daemon.process.start()
        try listener.waitFor("READY=1") { $0.has("READY=1") }

        let connected = ContinuousClock.now
        Thread.sleep(forTimeInterval: 6)
        let pingsConnected = listener.count("WATCHDOG=1", from: connected, to: .now)
        XCTAssert((4...8).contains(pingsConnected), "\(pingsConnected) pings in 6 s, expected about 6")

        // Waiting to reconnect is a turn of the same loop: the pings go on.
        broker.kill9()
        try listener.waitFor("a reconnecting status") { $0.value("STATUS")?.hasPrefix("reconnecting to") == true }
        let away = ContinuousClock.now
        Thread.sleep(forTimeInterval: 5)
        let pingsAway = listener.count("WATCHDOG=1", from: away, to: .now)
        // Between attempts the loop sleeps in turns of up to 1 s, so a ping may come up to 1 s late.
        XCTAssert((2...7).contains(pingsAway), "\(pingsAway) pings in 5 s without a broker, expected 3 to 5")
    }

    func testSighupReloadsBetweenReloadingAndReadyAndSigtermSaysStopping() throws {
        let listener = try SystemdNotifyListener(path: nil)
        defer { listener.stop() }
        let broker = try MosquittoBroker()
        try broker.start()
        let daemon = try NotifiedDaemon(brokerPort: broker.port, environment: ["NOTIFY_SOCKET": listener.address])
        defer { daemon.stop() }
        try daemon.process.start()
        let (readyIndex, _) = try listener.waitFor("READY=1") { $0.has("READY=1") }
        let pid = try XCTUnwrap(daemon.process.pid)

        let before = monotonicMicroseconds()
        kill(pid, SIGHUP)
        let (reloadingIndex, reloading) = try listener.waitFor(after: readyIndex + 1, "RELOADING=1") { $0.has("RELOADING=1") }
        let after = monotonicMicroseconds()
        let stamp = try XCTUnwrap(reloading.value("MONOTONIC_USEC").flatMap(UInt64.init), reloading.lines.description)
        XCTAssert(stamp >= before && stamp <= after, "MONOTONIC_USEC \(stamp) is not between \(before) and \(after)")
        let (_, readyAgain) = try listener.waitFor(after: reloadingIndex + 1, "READY=1 after the reload") { $0.has("READY=1") }
        XCTAssertEqual(readyAgain.value("STATUS"), "connected to 127.0.0.1:\(broker.port); 2 speakers")
        XCTAssertTrue(daemon.log().contains("plugins: SIGHUP: reloading all plugins"), daemon.log())

        daemon.process.terminate()
        let (stoppingIndex, _) = try listener.waitFor("STOPPING=1") { $0.has("STOPPING=1") }
        XCTAssertEqual(daemon.process.waitForExit(timeout: 15), 0, daemon.log())
        let afterStopping = listener.notifications.dropFirst(stoppingIndex + 1)
        XCTAssertFalse(afterStopping.contains { $0.has("READY=1") || $0.value("STATUS")?.hasPrefix("connect") == true },
                       listener.transcript)
    }

    func testWatchdogMeantForAnotherProcessStaysQuiet() throws {
        let listener = try SystemdNotifyListener(path: nil)
        defer { listener.stop() }
        let broker = try MosquittoBroker()
        try broker.start()
        let daemon = try NotifiedDaemon(brokerPort: broker.port, environment: [
            "NOTIFY_SOCKET": listener.address, "WATCHDOG_USEC": "1000000", "WATCHDOG_PID": "1"])
        defer { daemon.stop() }
        try daemon.process.start()
        try listener.waitFor("READY=1") { $0.has("READY=1") }
        Thread.sleep(forTimeInterval: 3)
        XCTAssertFalse(listener.notifications.contains { $0.has("WATCHDOG=1") }, listener.transcript)
    }

    /// No service manager, a bad address, a socket nobody binds: the daemon runs and answers as always.
    func testWithoutAUsableNotifySocketTheDaemonRunsAsAlways() throws {
        let dirs = try TempDirectory(prefix: "sbnotify")
        defer { dirs.remove() }
        let broker = try MosquittoBroker()
        try broker.start()
        let cases: [(environment: [String: String], logs: String?)] = [
            (["WATCHDOG_USEC": "1000000"], nil),
            (["NOTIFY_SOCKET": "relative/notify", "WATCHDOG_USEC": "1000000"], "neither an absolute path nor an abstract name"),
            (["NOTIFY_SOCKET": dirs.file("nobody-listens"), "WATCHDOG_USEC": "1000000"], "cannot notify the service manager at \(dirs.file("nobody-listens"))"),
        ]
        for (environment, logs) in cases {
            let daemon = try NotifiedDaemon(brokerPort: broker.port, environment: environment)
            defer { daemon.stop() }
            try daemon.process.start()
            try daemon.process.waitForLog(containing: "mqtt: connected to", timeout: 20)
            Thread.sleep(forTimeInterval: 2)  // four watchdog turns
            let health = try DaemonProcess.run(arguments: ["health", "--broker", "127.0.0.1:\(broker.port)",
                                                           "--set", "base_topic=\(daemon.base)", "--timeout", "5"])
            XCTAssertEqual(health.status, 0, "\(environment): \(health.output)")
            if let logs {
                // Said once, not at every watchdog ping.
                XCTAssertEqual(daemon.log().components(separatedBy: logs).count - 1, 1, "\(environment):\n\(daemon.log())")
            } else {
                XCTAssertFalse(daemon.log().contains("systemd:"), daemon.log())
            }
            daemon.process.terminate()
            XCTAssertEqual(daemon.process.waitForExit(timeout: 15), 0, "\(environment):\n\(daemon.log())")
        }
    }

    /// The embedded mosquitto is built with sd_notify (started with NOTIFY_SOCKET it says READY=1
    /// the moment it listens, as the control below shows): the daemon takes the variables out of
    /// the environment, so every notification comes from the daemon's own pid.
    func testTheEmbeddedBrokerNeverSpeaksForTheDaemon() throws {
        let control = try SystemdNotifyListener(path: nil)
        defer { control.stop() }
        let dirs = try TempDirectory(prefix: "sbnotify")
        defer { dirs.remove() }
        let port = freePort()
        try "listener \(port) 127.0.0.1\nallow_anonymous true\nuser \(String(cString: getpwuid(geteuid())!.pointee.pw_name))\n"
            .write(toFile: dirs.file("mosquitto.conf"), atomically: true, encoding: .utf8)
        let bare = try Shell.run(["sh", "-c", "NOTIFY_SOCKET='\(control.address)' timeout 2 mosquitto -c \(dirs.file("mosquitto.conf")) 2>/dev/null; true"])
        XCTAssertEqual(bare.status, 0)
        XCTAssertTrue(control.notifications.contains { $0.has("READY=1") }, "mosquitto alone did not notify: the control proves nothing")

        let listener = try SystemdNotifyListener(path: nil)
        defer { listener.stop() }
        let daemon = try NotifiedDaemon(brokerPort: nil, environment: ["NOTIFY_SOCKET": listener.address, "WATCHDOG_USEC": "1000000"])
        defer { daemon.stop() }
        try daemon.process.start()
        try listener.waitFor("READY=1") { $0.has("READY=1") }
        XCTAssertTrue(daemon.log().contains("(embedded)"), daemon.log())
        Thread.sleep(forTimeInterval: 1)
        let pid = try XCTUnwrap(daemon.process.pid)
        let others = listener.notifications.filter { $0.senderPID != pid }
        XCTAssertTrue(others.isEmpty, "from other processes: \(others.map { "\($0.senderPID.map(String.init) ?? "?"): \($0.lines)" })")
        XCTAssertEqual(listener.notifications.filter { $0.has("READY=1") }.count, 1, listener.transcript)
    }

    /// A wedged session loop stops the pings, for real: the daemon's log goes into a pipe (a FIFO
    /// shrunk to one page) that the test stops reading, as a stuck journald or a full `docker logs`
    /// pipe would. With `log_level: trace` the session thread logs every MQTT packet, so requests
    /// sent meanwhile make it block in write(2) — inside the loop that feeds the watchdog. A ping
    /// from a timer beside the loop would carry on; these stop, and come back once the pipe drains.
    func testAWedgedSessionLoopStopsThePings() throws {
        let dirs = try TempDirectory(prefix: "sbnotify")
        defer { dirs.remove() }
        let listener = try SystemdNotifyListener(path: dirs.file("notify.sock"))
        defer { listener.stop() }
        let broker = try MosquittoBroker()
        try broker.start()
        let output = try DrainedPipe(path: dirs.file("daemon.out"))
        defer { output.close() }
        let daemon = try NotifiedDaemon(brokerPort: broker.port,
                                        environment: ["NOTIFY_SOCKET": listener.address, "WATCHDOG_USEC": "1000000"],
                                        settings: ["log_level": "trace"], logPath: output.path)
        defer {
            output.draining = true  // a daemon blocked on its log cannot stop
            daemon.stop()
        }
        try daemon.process.start()
        try listener.waitFor("READY=1") { $0.has("READY=1") }
        let client = try TestClient()
        try client.connect(port: broker.port)
        try client.subscribe("\(daemon.base)/bridge/response/#")

        let flowing = ContinuousClock.now
        Thread.sleep(forTimeInterval: 2)
        XCTAssertGreaterThanOrEqual(listener.count("WATCHDOG=1", from: flowing, to: .now), 3, listener.transcript)

        output.draining = false
        // Requests until the pipe is full and the loop stuck in its log (about 40 trace lines).
        for i in 0..<60 {
            try client.publish(topic: "\(daemon.base)/bridge/request/health", payload: #"{"transaction":"w\#(i)"}"#, qos: 0)
            Thread.sleep(forTimeInterval: 0.05)
        }
        Thread.sleep(forTimeInterval: 1)
        let wedged = ContinuousClock.now
        Thread.sleep(forTimeInterval: 3)
        XCTAssertEqual(listener.count("WATCHDOG=1", from: wedged, to: .now), 0,
                       "pings went on while the session loop could not write its log:\n\(listener.transcript)")
        XCTAssertTrue(daemon.process.isRunning)

        output.draining = true
        let unwedged = ContinuousClock.now
        Thread.sleep(forTimeInterval: 3)
        XCTAssertGreaterThanOrEqual(listener.count("WATCHDOG=1", from: unwedged, to: .now), 3, listener.transcript)
        // Nothing was lost meanwhile: every request is answered once the loop runs again.
        _ = try client.waitForCount("\(daemon.base)/bridge/response/health", count: 60, timeout: 20)
        XCTAssertTrue(output.text.contains("libmosquitto: "), "the trace lines the loop blocked on")
    }

    private func monotonicMicroseconds() -> UInt64 {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        return UInt64(now.tv_sec) * 1_000_000 + UInt64(now.tv_nsec) / 1000
    }
}

/// The real daemon with two log speakers (Kitchen, Office), started with the environment a service
/// manager would give it; its output goes to `logPath` (a file, or a FIFO the test reads).
final class NotifiedDaemon: Sendable {
    let process: DaemonProcess
    let base = "sbnotify\(UInt32.random(in: 0...UInt32.max))"
    let state: TempDirectory
    let plugins: TempDirectory

    /// `brokerPort` nil: the daemon runs its embedded broker (on a free port).
    init(brokerPort: Int?, environment: [String: String], settings: [String: String] = [:], logPath: String? = nil) throws {
        state = try TempDirectory(prefix: "sbnotify-state")
        plugins = try TempDirectory(prefix: "sbnotify-plugins")
        try PluginBuild.logSpeaker(to: plugins.file("log-speaker.so"))
        try #"{"log": "\#(state.file("played.log"))", "speakers": ["Kitchen", "Office"]}"#
            .write(toFile: plugins.file("log-speaker.json"), atomically: true, encoding: .utf8)
        // Listeners on loopback only: nothing of these tests reaches the machine's real interfaces.
        var all = ["base_topic": base, "plugins.path": plugins.path, "plugins.watch": "false",
                   "network.interface": "lo", "media.bind": "127.0.0.1",
                   "mqtt.reconnect.min_delay": "0.2", "mqtt.reconnect.max_delay": "1", "mqtt.keepalive": "10"]
        all.merge(settings) { $1 }
        if brokerPort == nil { all["embedded_broker.port"] = String(freePort()) }
        var args = ["run", "--state-dir", state.file("state")]
        if let brokerPort { args += ["--broker", "127.0.0.1:\(brokerPort)"] }
        for (k, v) in all.sorted(by: { $0.key < $1.key }) { args += ["--set", "\(k)=\(v)"] }
        process = DaemonProcess(arguments: args, environment: environment, logPath: logPath ?? state.file("daemon.log"))
    }

    func log() -> String { process.log() }

    func stop() {
        if process.isRunning {
            process.terminate()
            if process.waitForExit(timeout: 10) == nil { process.kill9() }
        }
        state.remove()
        plugins.remove()
    }
}

/// A FIFO the daemon writes its output into, read by a thread only while `draining` is true; its
/// buffer is one page, so a few dozen log lines fill it and the writer blocks.
final class DrainedPipe: Sendable {
    let path: String
    private let fd: Int32
    private let drain = Atomic<Bool>(true)
    private let closed = Atomic<Bool>(false)
    private let received = Mutex<[UInt8]>([])

    var draining: Bool {
        get { drain.load(ordering: .acquiring) }
        set { drain.store(newValue, ordering: .releasing) }
    }

    var text: String { String(decoding: received.withLock { $0 }, as: UTF8.self) }

    init(path: String) throws {
        self.path = path
        guard mkfifo(path, 0o600) == 0 else { throw LabError("mkfifo \(path): \(String(cString: strerror(errno)))") }
        // Non-blocking, so the open does not wait for the writer, and the writer's open finds a reader.
        fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC)
        guard fd >= 0 else { throw LabError("open \(path): \(String(cString: strerror(errno)))") }
        let F_SETPIPE_SZ: Int32 = 1031
        guard fcntl(fd, F_SETPIPE_SZ, 4096) >= 0 else { throw LabError("F_SETPIPE_SZ: \(String(cString: strerror(errno)))") }
        let thread = Thread { [self] in self.run() }
        thread.name = "drained-pipe"
        thread.start()
    }

    private func run() {
        var buffer = [UInt8](repeating: 0, count: 65536)
        while !closed.load(ordering: .acquiring) {
            guard draining else {
                usleep(10_000)
                continue
            }
            let n = read(fd, &buffer, buffer.count)
            if n > 0 {
                received.withLock { $0.append(contentsOf: buffer[0..<n]) }
            } else {
                usleep(10_000)
            }
        }
        Glibc.close(fd)
    }

    func close() { closed.store(true, ordering: .releasing) }
}
