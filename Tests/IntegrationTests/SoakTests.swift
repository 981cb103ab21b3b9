import Foundation
import LabKit
import XCTest

/// `speakerbridge soak`: the 30-second CI run through a broker restart and a `kill -9` of the
/// daemon, and proof that its "lost" is real: a daemon killed for good leaves acknowledged
/// announcements unfinished, the soak says which and fails, and a restarted daemon then finishes
/// exactly those.
final class SoakTests: XCTestCase {
    /// TTS plus four log speakers, so a moderate rate never queues up behind one speaker.
    private func pluginFolder() throws -> (plugins: TempDirectory, scratch: TempDirectory) {
        let plugins = try TempDirectory(prefix: "sbsoak-plugins")
        let scratch = try TempDirectory(prefix: "sbsoak-scratch")
        try PluginBuild.ttsPlugin(to: plugins.file("tts-espeak.so"))
        try writeJSON(["cache_dir": scratch.file("tts-cache")], to: plugins.file("tts-espeak.json"))
        try PluginBuild.logSpeaker(to: plugins.file("log-speaker.so"))
        try writeJSON(["log": scratch.file("played.txt"), "speakers": ["A", "B", "C", "D"]], to: plugins.file("log-speaker.json"))
        return (plugins, scratch)
    }

    /// The report `--json` printed: the last line of output that is a JSON object.
    private func report(_ output: String) throws -> [String: Any] {
        guard let line = output.split(separator: "\n").last(where: { $0.hasPrefix("{") }),
              let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else {
            throw LabError("no JSON report in the soak's output:\n\(output)")
        }
        return object
    }

    func testThirtySecondSoakThroughABrokerRestartAndADaemonKillLosesNothing() throws {
        let (plugins, scratch) = try pluginFolder()
        defer { plugins.remove(); scratch.remove() }
        // Broker restarts at 9-15 s (and maybe once more before 30 s); one kill at 15-25 s, the
        // next would be past the end.
        let run = try DaemonProcess.run(arguments: [
            "soak", "--start-daemon", "--plugins", plugins.path, "--duration", "30s", "--rate", "5/s",
            "--restart-broker-every", "12", "--kill-daemon-every", "20", "--drain", "60s", "--json",
        ], timeout: 150)
        let r = try report(run.output)
        XCTAssertEqual(run.status, 0, run.output)
        XCTAssertEqual(r["passed"] as? Bool, true, run.output)
        XCTAssertEqual(r["lost"] as? Int, 0, run.output)
        XCTAssertEqual(r["duplicated"] as? Int, 0, run.output)
        XCTAssertEqual(r["sent"] as? Int, 150 - (r["not_sent"] as? Int ?? 0), run.output)
        XCTAssertGreaterThan(r["accepted"] as? Int ?? 0, 100, run.output)
        XCTAssertEqual(r["failed"] as? Int, 0, run.output)
        XCTAssertGreaterThanOrEqual(r["broker_restarts"] as? Int ?? 0, 1, run.output)
        XCTAssertEqual(r["daemon_kills"] as? Int, 1, run.output)
        // The daemon reconnected after the broker restart and said so on bridge/state; its health
        // counted the loss as rc 7.
        XCTAssertGreaterThanOrEqual(r["reconnects"] as? Int ?? 0, 1, run.output)
        XCTAssertGreaterThanOrEqual(r["online_events"] as? Int ?? 0, 3, run.output)
        XCTAssertEqual(r["daemon_processes"] as? Int, 2, run.output)
        let disconnects = r["disconnects"] as? [String: Int] ?? [:]
        XCTAssertGreaterThanOrEqual(disconnects["MOSQ_ERR_CONN_LOST"] ?? 0, 1, run.output)
        let latency = r["latency_ms"] as? [String: Any] ?? [:]
        XCTAssertNotNil(latency["p50"] as? Int, run.output)
        XCTAssertNotNil(latency["p99"] as? Int, run.output)
        XCTAssertTrue(run.output.contains("restart the broker"), run.output)
        XCTAssertTrue(run.output.contains("kill -9 the daemon"), run.output)
        // Progress lines while it ran (plain lines: the output is not a terminal).
        XCTAssertGreaterThanOrEqual(run.output.components(separatedBy: "/30 s  sent ").count - 1, 20, run.output)
    }

    func testAcknowledgedAnnouncementsOfADeadDaemonAreReportedLost() throws {
        let (plugins, scratch) = try pluginFolder()
        defer { plugins.remove(); scratch.remove() }
        let broker = try MosquittoBroker()
        try broker.start()
        let daemon = try DaemonUnderTest(brokerPort: broker.port, settings: [
            "plugins.path": plugins.path, "media.bind": "127.0.0.1", "network.interface": "lo"])
        let watch = try watcher(port: broker.port, [daemon.topics.state, daemon.topics.events])
        try daemon.start()
        try waitForOnline(watch, daemon)

        // A soak against the running daemon (found like `say` finds it), QoS 1 only so every
        // announcement is acknowledged by the broker and must be finished.
        let soakLog = scratch.file("soak.out")
        let soak = DaemonProcess(arguments: [
            "soak", "--broker", "127.0.0.1:\(broker.port)", "--set", "base_topic=\(daemon.base)",
            "--duration", "8s", "--rate", "5", "--qos", "1", "--drain", "3s", "--json",
        ], logPath: soakLog)
        try soak.start()
        XCTAssertTrue(waitUntil(timeout: 20, interval: 0.05) { soak.log().contains("3/8 s  sent") }, soak.log())
        // The daemon dies for good: the broker keeps acknowledging and queueing what the soak sends.
        daemon.process.kill9()
        _ = daemon.process.waitForExit(timeout: 5)
        guard let status = soak.waitForExit(timeout: 60) else {
            soak.kill9()
            return XCTFail("soak still running:\n\(soak.log())")
        }
        let r = try report(soak.log())
        XCTAssertEqual(status, 1, soak.log())
        XCTAssertEqual(r["passed"] as? Bool, false)
        let lostIDs = r["lost_ids"] as? [String] ?? []
        XCTAssertGreaterThanOrEqual(r["lost"] as? Int ?? 0, 10, soak.log())
        XCTAssertFalse(lostIDs.isEmpty, soak.log())
        XCTAssertTrue((r["verdict"] as? String ?? "").hasPrefix("FAIL:"), soak.log())
        XCTAssertTrue(soak.log().contains("FAIL") || r["verdict"] != nil)
        XCTAssertEqual(r["duplicated"] as? Int, 0, soak.log())
        XCTAssertGreaterThan(r["done"] as? Int ?? 0, 0, "the first seconds were announced: \(soak.log())")

        // Those were real: restarted, the daemon finishes every id the soak called lost.
        try daemon.start()
        try waitForOnline(watch, daemon, after: .now)
        let finished = waitUntil(timeout: 60, interval: 0.1) {
            let ids = Set(watch.messages(on: daemon.topics.events).map(json)
                .filter { ["done", "failed"].contains($0["state"] as? String ?? "") }
                .compactMap { $0["id"] as? String })
            return lostIDs.allSatisfy(ids.contains)
        }
        XCTAssertTrue(finished, "ids reported lost but not finished after the restart: \(lostIDs)")
    }

    func testChaosNeedsADaemonOfItsOwn() throws {
        let run = try DaemonProcess.run(arguments: ["soak", "--broker", "127.0.0.1:1", "--kill-daemon-every", "10"], timeout: 30)
        XCTAssertNotEqual(run.status, 0)
        XCTAssertTrue(run.output.contains("needs --start-daemon"), run.output)
    }
}
