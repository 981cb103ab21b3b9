import Foundation
import LabKit
import XCTest

/// A plugin that does not return is reported (log, health, `plugins list`) and never holds up a
/// daemon stop: SIGTERM ends the daemon within 10 s (Docker's and compose's default grace),
/// cleanly, whatever the plugin does; in both plugin modes.
final class PluginStopTests: XCTestCase {
    private let logID = "org.speakerbridge.example.log-speaker"

    func testAStopWithAHungCommandEndsWithinTenSecondsInline() throws { try stopWithAHungCommand(mode: "inline") }
    func testAStopWithAHungCommandEndsWithinTenSecondsInProcessMode() throws { try stopWithAHungCommand(mode: "process") }

    func testAStopAfterTheHangWasReportedEndsWithinTenSecondsInline() throws {
        try stopWithAHungCommand(mode: "inline", reportedFirst: true)
    }

    func testAStopAfterTheHangWasReportedEndsWithinTenSecondsInProcessMode() throws {
        try stopWithAHungCommand(mode: "process", reportedFirst: true)
    }

    func testAStopWithAPlayThatNeverCompletesEndsWithinTenSecondsInline() throws { try stopWithAPlayThatNeverCompletes(mode: "inline") }
    func testAStopWithAPlayThatNeverCompletesEndsWithinTenSecondsInProcessMode() throws { try stopWithAPlayThatNeverCompletes(mode: "process") }

    func testAHungCallIsLoggedShownInHealthAndPluginsListUntilItReturns() throws {
        let lab = try PluginDaemon(settings: ["plugins.isolation": "inline", "plugins.call_timeout": "1"]) { dir, scratch in
            try PluginBuild.logSpeaker(to: dir + "/log-speaker.so")
            try writeJSON(["log": scratch + "/log.txt"], to: dir + "/log-speaker.json")
        }
        let requester = BridgeRequester(client: lab.client, base: lab.base)
        _ = try requester.send("plugin/\(logID)/sleep", ["ms": 4000])
        try lab.daemon.process.waitForLog(containing: "plugin \(logID)#1: command 'sleep' has not returned after 1 s; the plugin is not responding", timeout: 10)

        let health = try XCTUnwrap(try lab.request("health")["data"] as? [String: Any])
        XCTAssertEqual(health["healthy"] as? Bool, false, "\(health)")
        XCTAssertEqual(health["status"] as? String, "degraded", "\(health)")
        let problems = (health["problems"] as? [String] ?? []).joined(separator: "; ")
        XCTAssertTrue(problems.contains("plugin \(logID) is not responding (command 'sleep' for "), problems)

        let healthz = try AdminEndpoint.of(lab.daemon).get("/healthz")
        XCTAssertEqual(healthz.status, 503, healthz.body)
        XCTAssertTrue(healthz.body.hasPrefix("degraded\n- plugin \(logID) is not responding (command 'sleep' for "), healthz.body)
        let entry = try XCTUnwrap((lab.info()["loaded"] as? [[String: Any]])?.first { $0["id"] as? String == logID })
        XCTAssertEqual(entry["state"] as? String, "hung", "\(entry)")
        let list = try DaemonProcess.run(arguments: ["plugins", "list", "--broker", "127.0.0.1:\(lab.broker.port)", "--set", "base_topic=\(lab.base)"])
        XCTAssertTrue(list.output.contains("state: hung"), list.output)
        XCTAssertTrue(list.output.contains("problem: plugin \(logID) is not responding (command 'sleep' for "), list.output)

        // It returns after all: a notice, and health is clear again.
        try lab.daemon.process.waitForLog(containing: "plugin \(logID)#1: command 'sleep' returned after 4", timeout: 10)
        let after = try XCTUnwrap(try lab.request("health")["data"] as? [String: Any])
        XCTAssertEqual(after["healthy"] as? Bool, true, "\(after)")
        XCTAssertEqual(after["status"] as? String, "healthy", "\(after)")
        let running = try XCTUnwrap((lab.info()["loaded"] as? [[String: Any]])?.first { $0["id"] as? String == logID })
        XCTAssertEqual(running["state"] as? String, "running", "\(running)")
    }

    /// A `play` request whose operation the driver never completes (operation_timeout is 300 s),
    /// then SIGTERM: the stop does not wait for it.
    private func stopWithAPlayThatNeverCompletes(mode: String) throws {
        let lab = try PluginDaemon(settings: ["plugins.isolation": mode, "plugins.call_timeout": "5", "plugins.operation_timeout": "300"]) { dir, scratch in
            try PluginBuild.logSpeaker(to: dir + "/log-speaker.so")
            try writeJSON(["log": scratch + "/log.txt", "speakers": ["Hall"]], to: dir + "/log-speaker.json")
        }
        let requester = BridgeRequester(client: lab.client, base: lab.base)
        let sent = try requester.send("play", ["speaker": "Hall", "url": "http://127.0.0.1:9/never-complete.wav"])
        Thread.sleep(forTimeInterval: 1)
        XCTAssertNil(requester.answer("play", sent.transaction), "still playing")

        let stopped = Date()
        lab.daemon.process.terminate()
        let status = lab.daemon.process.waitForExit(timeout: 20)
        let took = Date().timeIntervalSince(stopped)
        XCTAssertEqual(status, 0, lab.daemon.log())
        XCTAssertLessThan(took, 10, "a stop with a play in progress (\(mode)) took \(took) s:\n\(lab.daemon.log())")
        let answer = try XCTUnwrap(requester.answer("play", sent.transaction).map(json), "the play is answered before the daemon goes")
        XCTAssertTrue((answer["error"] as? String ?? "").contains("the daemon is stopping"), "\(answer)")
    }

    /// A typed command that does not return, a second call queued behind it, then SIGTERM: the
    /// daemon says offline and exits 0 in under 10 s. `reportedFirst`: SIGTERM only after the hang
    /// was reported (the call missed its deadline), otherwise while the call is still within it.
    private func stopWithAHungCommand(mode: String, reportedFirst: Bool = false) throws {
        let lab = try PluginDaemon(settings: ["plugins.isolation": mode, "plugins.call_timeout": "5"]) { dir, scratch in
            try PluginBuild.logSpeaker(to: dir + "/log-speaker.so")
            try writeJSON(["log": scratch + "/log.txt"], to: dir + "/log-speaker.json")
            try PluginBuild.logSpeaker(to: dir + "/other.so", [#"LOG_SPEAKER_ID="t.other""#])
            try writeJSON(["log": scratch + "/other.txt"], to: dir + "/other.json")
        }
        let requester = BridgeRequester(client: lab.client, base: lab.base)
        _ = try requester.send("plugin/\(logID)/sleep", ["ms": 600_000])
        Thread.sleep(forTimeInterval: 0.5)
        // Queued behind the stuck call: it must not make the stop wait either.
        _ = try requester.send("plugin/\(logID)/echo", ["text": "behind"])
        if reportedFirst {
            // The same report in both modes (process mode adds the kill that follows).
            try lab.daemon.process.waitForLog(containing: "command 'sleep' has not returned after 5 s; the plugin is not responding", timeout: 10)
        }
        XCTAssertEqual(try lab.request("plugin/t.other/echo", ["text": "fine"])["status"] as? String, "ok")

        let stopped = Date()
        lab.daemon.process.terminate()
        let status = lab.daemon.process.waitForExit(timeout: 20)
        let took = Date().timeIntervalSince(stopped)
        XCTAssertEqual(status, 0, lab.daemon.log())
        XCTAssertLessThan(took, 10, "a stop with a hung \(mode) plugin took \(took) s:\n\(lab.daemon.log())")
        let offline = try lab.client.waitFor("\(lab.base)/bridge/state", timeout: 5) { json($0)["state"] as? String == "offline" }
        XCTAssertEqual(json(offline)["reason"] as? String, "shutdown", "a clean stop, not the Will")
    }
}
