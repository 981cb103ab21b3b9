import Foundation
import LabKit
import Synchronization
import XCTest

/// The embedded broker admits only the daemon and its CLI (the password in the state directory),
/// refuses oversized publishes, and `run` never talks to another program on its port.
final class EmbeddedBrokerSecurityTests: XCTestCase {
    func testAnonymousClientsAreRefusedAndThePasswordFromTheStateDirectoryAdmits() throws {
        let daemon = try EmbeddedDaemon()
        try daemon.startAndWaitOnline()

        var info = stat()
        XCTAssertEqual(stat(daemon.passwordPath, &info), 0)
        XCTAssertEqual(info.st_mode & 0o777, 0o600, "the password file is readable by its owner only")
        let conf = try String(contentsOfFile: daemon.state.file("broker/mosquitto.conf"), encoding: .utf8)
        XCTAssertTrue(conf.contains("allow_anonymous false"), conf)

        // Anonymous, and a wrong password: CONNACK "not authorized".
        let anonymous = try TestClient()
        XCTAssertThrowsError(try anonymous.connect(port: daemon.port, timeout: 5)) { error in
            XCTAssertTrue("\(error)".contains("Not authorized"), "\(error)")
        }
        let guesser = try TestClient()
        guesser.setCredentials(username: "speakerbridge", password: "guess")
        XCTAssertThrowsError(try guesser.connect(port: daemon.port, timeout: 5)) { error in
            XCTAssertTrue("\(error)".contains("Not authorized"), "\(error)")
        }

        // The daemon's own login works, and the CLI finds it by itself.
        let watch = try daemon.authenticatedWatcher()
        let health = try DaemonProcess.run(arguments: ["health"] + daemon.cliOptions)
        XCTAssertEqual(health.status, 0, health.output)
        XCTAssertTrue(health.output.contains("\"connected\":true"), health.output)
        let say = try DaemonProcess.run(arguments: ["say", "Someone is at the door", "--id", "door-1"] + daemon.cliOptions)
        XCTAssertEqual(say.status, 0, say.output)
        // No speaker plugin is loaded: the announcement is answered (failed), which proves it arrived.
        let event = try watch.waitFor(daemon.events) { json($0)["id"] as? String == "door-1" }
        XCTAssertNotNil(json(event)["state"], event.text)
        XCTAssertFalse(daemon.process.log().contains("unverified broker"), daemon.process.log())
    }

    func testCLIWithoutAccessToThePasswordSaysWhoMayRunIt() throws {
        try requireRoot("the CLI as an unprivileged user (setpriv)")
        let daemon = try EmbeddedDaemon()
        try daemon.startAndWaitOnline()
        let bin = try DaemonProcess.binaryPath()
        let run = try Shell.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", bin, "health"] + daemon.cliOptions)
        XCTAssertEqual(run.status, 1, run.out + run.err)
        XCTAssertTrue(run.err.contains("run as the daemon's user or root"), run.out + run.err)
        // The daemon is untouched by the refused attempt.
        let health = try DaemonProcess.run(arguments: ["health"] + daemon.cliOptions)
        XCTAssertEqual(health.status, 0, health.output)
    }

    func testAllowAnonymousAdmitsClientsWithoutPassword() throws {
        let daemon = try EmbeddedDaemon(settings: ["embedded_broker.allow_anonymous": "true"])
        try daemon.startAndWaitOnline()
        let anonymous = try TestClient()
        try anonymous.connect(port: daemon.port, timeout: 5)
        try anonymous.subscribe(daemon.state_topic)
        _ = try anonymous.waitFor(daemon.state_topic) { json($0)["state"] as? String == "online" }
        // The daemon and the CLI keep using the password.
        let health = try DaemonProcess.run(arguments: ["health"] + daemon.cliOptions)
        XCTAssertEqual(health.status, 0, health.output)
    }

    func testPortTakenByAnotherProgramFailsRunWithTheReasonAndSendsItNothing() throws {
        let squatter = try PortSquatter()
        defer { squatter.close() }
        let daemon = try EmbeddedDaemon(port: squatter.port)
        try daemon.process.start()
        let status = daemon.process.waitForExit(timeout: 20)
        XCTAssertNotNil(status, "run must give up: \(daemon.process.log())")
        XCTAssertNotEqual(status, 0)
        let log = daemon.process.log()
        XCTAssertTrue(log.contains("embedded broker: port \(squatter.port) on 127.0.0.1 is already in use by another program"), log)
        XCTAssertTrue(log.contains("set embedded_broker.port"), log)
        XCTAssertEqual(squatter.receivedBytes, 0, "the squatter got \(squatter.receivedBytes) bytes from us")
        XCTAssertFalse(log.contains("mqtt: connected"), log)
        // Nothing of ours stays behind: the port is still the squatter's, no broker was left running.
        XCTAssertFalse(FileManager.default.fileExists(atPath: daemon.state.file("broker/mosquitto.pid")))
    }

    func testSquatterTakingThePortWhileTheBrokerRestartsGetsNoConnect() throws {
        let daemon = try EmbeddedDaemon()
        try daemon.startAndWaitOnline()
        let pid = try daemon.brokerPID()
        kill(pid, SIGKILL)
        // The supervisor waits a second before restarting: take the port in that gap.
        var squatter: PortSquatter?
        XCTAssertTrue(waitUntil(timeout: 5, interval: 0.01) { squatter = try? PortSquatter(port: daemon.port); return squatter != nil })
        let held = try XCTUnwrap(squatter)
        defer { held.close() }
        try daemon.process.waitForLog(containing: "embedded broker: cannot restart mosquitto (port \(daemon.port) on 127.0.0.1 is already in use by another program", timeout: 15)
        // The session keeps trying, and each try is refused before it sends anything.
        XCTAssertTrue(waitUntil(timeout: 15) { daemon.process.log().components(separatedBy: "unverified broker").count - 1 >= 2 },
                      daemon.process.log())
        XCTAssertEqual(held.receivedBytes, 0, "the squatter got an MQTT CONNECT (or anything) from us")

        // Once the port is free again the broker comes back and so does the session.
        held.close()
        XCTAssertTrue(waitUntil(timeout: 40) { daemon.process.log().components(separatedBy: "mqtt: connected to").count - 1 >= 2 },
                      daemon.process.log())
        let health = try DaemonProcess.run(arguments: ["health"] + daemon.cliOptions)
        XCTAssertEqual(health.status, 0, health.output)
    }

    func testOversizedPublishIsRefusedByTheBrokerAndTheDaemonStaysHealthy() throws {
        let daemon = try EmbeddedDaemon(settings: ["mqtt.max_payload": "4096"])
        try daemon.startAndWaitOnline()
        let conf = try String(contentsOfFile: daemon.state.file("broker/mosquitto.conf"), encoding: .utf8)
        XCTAssertTrue(conf.contains("message_size_limit 4096"), conf)
        let watch = try daemon.authenticatedWatcher()
        let password = try daemon.password()
        let big = "{\"id\":\"big\",\"text\":\"" + String(repeating: "a", count: 5000) + "\"}"
        let publish = try Shell.run(["mosquitto_pub", "-h", "127.0.0.1", "-p", "\(daemon.port)", "-V", "5", "-q", "1",
                                     "-u", "speakerbridge", "-P", password, "-t", daemon.speak, "-s"], input: big)
        XCTAssertTrue((publish.out + publish.err).contains("Publish 1 failed"), "the broker must refuse it: \(publish)")
        // A good request right after, on the same topic: answered; the big one never reached the daemon.
        try Shell.run(["mosquitto_pub", "-h", "127.0.0.1", "-p", "\(daemon.port)", "-V", "5", "-q", "1",
                       "-u", "speakerbridge", "-P", password, "-t", daemon.speak, "-m", "{\"id\":\"small\",\"text\":\"hi\"}"])
        _ = try watch.waitFor(daemon.events) { json($0)["id"] as? String == "small" }
        XCTAssertTrue(watch.messages(on: daemon.events).allSatisfy { json($0)["id"] as? String != "big" })
        let health = try DaemonProcess.run(arguments: ["health"] + daemon.cliOptions)
        XCTAssertEqual(health.status, 0, health.output)
        XCTAssertTrue(daemon.process.isRunning)
    }
}

/// A daemon running its embedded broker on a free port, with its own state directory.
private final class EmbeddedDaemon {
    let state: TempDirectory
    let port: Int
    let base = "sbemb\(UInt32.random(in: 0...UInt32.max))"
    let process: DaemonProcess
    var state_topic: String { base + "/bridge/state" }
    var events: String { base + "/bridge/event/announcement" }
    var speak: String { base + "/speak" }
    var passwordPath: String { state.file("broker/password") }
    /// What a CLI command needs to find the same broker and password.
    var cliOptions: [String] {
        ["--state-dir", state.path, "--set", "embedded_broker.port=\(port)", "--set", "base_topic=\(base)", "--timeout", "5"]
    }

    init(port: Int? = nil, settings: [String: String] = [:]) throws {
        self.port = port ?? freePort()
        state = try TempDirectory(prefix: "sbembsec")
        var all = ["embedded_broker.port": "\(self.port)", "base_topic": base, "network.interface": "lo",
                   "media.bind": "127.0.0.1", "mqtt.reconnect.min_delay": "0.2", "mqtt.reconnect.max_delay": "1"]
        all.merge(settings) { $1 }
        var args = ["run", "--state-dir", state.path]
        for (k, v) in all.sorted(by: { $0.key < $1.key }) { args += ["--set", "\(k)=\(v)"] }
        process = DaemonProcess(arguments: args, logPath: state.file("daemon.log"))
    }

    func startAndWaitOnline() throws {
        try process.start()
        try process.waitForLog(containing: "mqtt: connected to", timeout: 20)
    }

    func password() throws -> String {
        try String(contentsOfFile: passwordPath, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    func brokerPID() throws -> pid_t {
        try XCTUnwrap(pid_t(String(contentsOfFile: state.file("broker/mosquitto.pid"), encoding: .utf8)
            .trimmingCharacters(in: .whitespacesAndNewlines)))
    }

    func authenticatedWatcher() throws -> TestClient {
        let client = try TestClient()
        client.setCredentials(username: "speakerbridge", password: try password())
        try client.connect(port: port, timeout: 5)
        try client.subscribe(state_topic)
        try client.subscribe(events)
        return client
    }

    deinit {
        // The broker first: a killed daemon leaves it running, and the test runner would see the
        // daemon's end only late (the broker keeps the daemon's inherited log descriptor open).
        if let text = try? String(contentsOfFile: state.file("broker/mosquitto.pid"), encoding: .utf8),
           let pid = pid_t(text.trimmingCharacters(in: .whitespacesAndNewlines)) { kill(pid, SIGKILL) }
        if process.isRunning {
            process.kill9()
            _ = process.waitForExit(timeout: 5)
        }
    }
}

/// Another program holding a port on 127.0.0.1: accepts connections and counts what it is sent.
private final class PortSquatter: Sendable {
    let port: Int
    private let fd: Int32
    private let received = Mutex(0)
    private let stopped = Mutex(false)

    var receivedBytes: Int { received.withLock { $0 } }

    init(port: Int? = nil) throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw LabError("socket: \(String(cString: strerror(errno)))") }
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = UInt16(port ?? 0).bigEndian
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &addr) { ptr in
            ptr.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, len) == 0 && getsockname(fd, $0, &len) == 0 }
        }
        guard bound, listen(fd, 16) == 0 else {
            let reason = String(cString: strerror(errno))
            Glibc.close(fd)
            throw LabError("squatter cannot listen on 127.0.0.1:\(port ?? 0): \(reason)")
        }
        self.fd = fd
        self.port = Int(UInt16(bigEndian: addr.sin_port))
        // The thread holds the squatter until `close()`: tests close it explicitly.
        Thread { [self] in serve() }.start()
    }

    /// Accepts and reads everything until closed; any byte (an MQTT CONNECT starts with 0x10) counts.
    private func serve() {
        var clients: [Int32] = []
        while !stopped.withLock({ $0 }) {
            var fds = [pollfd(fd: fd, events: Int16(POLLIN), revents: 0)] + clients.map { pollfd(fd: $0, events: Int16(POLLIN), revents: 0) }
            guard poll(&fds, nfds_t(fds.count), 50) > 0 else { continue }
            if fds[0].revents & Int16(POLLIN) != 0 {
                let c = accept(fd, nil, nil)
                if c >= 0 { clients.append(c) }
            }
            for entry in fds.dropFirst() where entry.revents != 0 {
                var buffer = [UInt8](repeating: 0, count: 4096)
                let n = read(entry.fd, &buffer, buffer.count)
                if n > 0 {
                    received.withLock { $0 += n }
                } else {
                    Glibc.close(entry.fd)
                    clients.removeAll { $0 == entry.fd }
                }
            }
        }
        for c in clients { Glibc.close(c) }
        Glibc.close(fd)
    }

    /// Stops listening (within one poll interval) and hangs up on everyone.
    func close() { stopped.withLock { $0 = true } }
}
