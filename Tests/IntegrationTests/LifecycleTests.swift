import Foundation
import LabKit
import XCTest

/// Start, clean stop, kill -9, the state-directory lock and the health command, on a real broker.
final class LifecycleTests: XCTestCase {
    func testCleanStopSaysOfflineWithoutTheWillAndExitsZero() throws {
        let (broker, daemon, watch) = try runningDaemon(watching: ["+/bridge/info"])
        let info = try watch.waitFor("\(daemon.base)/bridge/info")
        XCTAssertEqual(json(info)["base_topic"] as? String, daemon.base)

        daemon.process.terminate()
        XCTAssertEqual(daemon.process.waitForExit(timeout: 15), 0, daemon.log())
        let offline = try watch.waitFor(daemon.topics.state) { json($0)["state"] as? String == "offline" }
        XCTAssertEqual(json(offline)["reason"] as? String, "shutdown")
        Thread.sleep(forTimeInterval: 1.5)
        let wills = watch.messages(on: daemon.topics.state).filter { json($0)["reason"] as? String == "connection lost" }
        XCTAssertTrue(wills.isEmpty, "a clean disconnect must suppress the Will")
        // The retained value a newcomer sees is offline.
        let late = try watcher(port: broker.port, [daemon.topics.state])
        let retained = try late.waitFor(daemon.topics.state)
        XCTAssertTrue(retained.retain)
        XCTAssertEqual(json(retained)["state"] as? String, "offline")
    }

    func testKill9FiresTheWill() throws {
        let (broker, daemon, watch) = try runningDaemon()
        defer { withExtendedLifetime(broker) {} }
        daemon.process.kill9()
        let will = try watch.waitFor(daemon.topics.state, timeout: 10) { json($0)["state"] as? String == "offline" }
        XCTAssertEqual(json(will)["reason"] as? String, "connection lost")
    }

    func testSecondInstanceOnTheSameStateDirectoryRefusesToStart() throws {
        let (broker, first, _) = try runningDaemon()
        let second = try first.sibling(brokerPort: broker.port)
        try second.start()
        let status = second.process.waitForExit(timeout: 10)
        XCTAssertNotNil(status, "the second instance must exit")
        XCTAssertNotEqual(status, 0)
        XCTAssertTrue(second.log().contains("already using the state directory"), second.log())
        XCTAssertTrue(first.process.isRunning)
    }

    func testHealthCommandExitCode() throws {
        let (broker, daemon, _) = try runningDaemon()
        let args = ["health", "--broker", "127.0.0.1:\(broker.port)", "--set", "base_topic=\(daemon.base)", "--timeout", "5"]
        let healthy = try DaemonProcess.run(arguments: args)
        XCTAssertEqual(healthy.status, 0, healthy.output)
        XCTAssertTrue(healthy.output.contains("\"connected\":true"), healthy.output)
        XCTAssertTrue(healthy.output.contains("\"durability\":\"process\""), healthy.output)

        daemon.process.terminate()
        XCTAssertEqual(daemon.process.waitForExit(timeout: 15), 0)
        let down = try DaemonProcess.run(arguments: args)
        XCTAssertEqual(down.status, 1)
        XCTAssertTrue(down.output.contains("no answer from the daemon"), down.output)
    }

    func testMQTT311SessionAnswersRequests() throws {
        let (broker, daemon, _) = try runningDaemon(settings: ["mqtt.protocol": "3.1.1"])
        XCTAssertTrue(daemon.log().contains("(MQTT 3.1.1, session new)"), daemon.log())
        let health = try DaemonProcess.run(arguments: ["health", "--broker", "127.0.0.1:\(broker.port)",
                                                       "--set", "base_topic=\(daemon.base)", "--set", "mqtt.protocol=3.1.1"])
        XCTAssertEqual(health.status, 0, health.output)
    }

    func testEmbeddedBrokerStartsStopsAndIsRestartedWhenItDies() throws {
        let port = freePort()
        let state = try TempDirectory(prefix: "sbembedded")
        let daemon = DaemonProcess(arguments: ["run", "--state-dir", state.path, "--set", "embedded_broker.port=\(port)",
                                               "--set", "mqtt.reconnect.min_delay=0.2", "--set", "mqtt.reconnect.max_delay=1"],
                                   logPath: state.file("daemon.log"))
        try daemon.start()
        defer {
            // A failing run must not leave the embedded broker behind the killed daemon.
            if daemon.isRunning { daemon.kill9() }
            if let pid = try? String(contentsOfFile: state.path + "/broker/mosquitto.pid", encoding: .utf8),
               let p = Int32(pid.trimmingCharacters(in: .whitespacesAndNewlines)) { kill(p, SIGKILL) }
        }
        let watch = try TestClient()
        // Only the daemon's login gets in: the password it generated in the state directory.
        XCTAssertTrue(waitUntil(timeout: 10) { FileManager.default.fileExists(atPath: state.path + "/broker/password") }, daemon.log())
        let password = try String(contentsOfFile: state.path + "/broker/password", encoding: .utf8)
        watch.setCredentials(username: "speakerbridge", password: password.trimmingCharacters(in: .whitespacesAndNewlines))
        XCTAssertTrue(waitUntil(timeout: 10) { (try? watch.connect(port: port, timeout: 1)) != nil }, daemon.log())
        try watch.subscribe("speakerbridge/bridge/state")
        _ = try watch.waitFor("speakerbridge/bridge/state") { json($0)["state"] as? String == "online" }
        let conf = try String(contentsOfFile: state.path + "/broker/mosquitto.conf", encoding: .utf8)
        XCTAssertTrue(conf.contains("listener \(port) 127.0.0.1"))
        XCTAssertTrue(conf.contains("persistent_client_expiration"))

        // The supervisor restarts a broker that dies, and the session comes back by itself.
        let pid = try XCTUnwrap(Int32(String(contentsOfFile: state.path + "/broker/mosquitto.pid", encoding: .utf8)
            .trimmingCharacters(in: .whitespacesAndNewlines)))
        kill(pid, SIGKILL)
        try daemon.waitForLog(containing: "embedded broker: mosquitto exited", timeout: 10)
        XCTAssertTrue(waitUntil(timeout: 20) { daemon.log().components(separatedBy: "mqtt: connected to").count - 1 >= 2 },
                      "the session reconnects to the restarted broker:\n\(daemon.log())")
        daemon.terminate()
        XCTAssertEqual(daemon.waitForExit(timeout: 15), 0, daemon.log())
        XCTAssertFalse(tcpConnects(host: "127.0.0.1", port: port), "the embedded broker stops with the daemon")
    }
}
