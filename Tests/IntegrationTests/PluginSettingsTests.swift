import Foundation
import LabKit
import XCTest

/// A plugin's settings file `NAME.json`: checked before `create` (valid UTF-8, one JSON object),
/// and watched like the plugin's `.so` (an edit reloads the plugin blue/green).
final class PluginSettingsTests: XCTestCase {
    let logID = "org.speakerbridge.example.log-speaker"

    /// What the `plugins` request says about `file` right now: its rejection, if any.
    private func rejection(_ lab: PluginDaemon, of file: String) throws -> [String: Any]? {
        (try lab.info()["rejected"] as? [[String: Any]] ?? []).first { ($0["file"] as? String)?.hasSuffix("/" + file) == true }
    }

    private func loaded(_ lab: PluginDaemon, _ id: String) throws -> [String: Any]? {
        (try lab.info()["loaded"] as? [[String: Any]] ?? []).first { $0["id"] as? String == id }
    }

    private func speakerNames(_ plugin: [String: Any]?) -> [String] {
        (plugin?["speakers"] as? [[String: Any]])?.compactMap { $0["name"] as? String } ?? []
    }

    private func waitForRejection(_ lab: PluginDaemon, of file: String, containing text: String) throws -> [String: Any] {
        var last: [String: Any]?
        let seen = waitUntil(timeout: 10, interval: 0.1) {
            last = try? rejection(lab, of: file)
            return (last?["error"] as? String)?.contains(text) == true
        }
        XCTAssertTrue(seen, "expected a rejection of \(file) containing “\(text)”, last: \(String(describing: last))")
        return last ?? [:]
    }

    func testBadSettingsAreRefusedWithTheirReasonAndAFixLoadsThePlugin() throws {
        var logFile = ""
        let lab = try PluginDaemon { dir, scratch in
            logFile = scratch + "/log.txt"
            try PluginBuild.logSpeaker(to: dir + "/log-speaker.so")
            try "[\"Kitchen\"]".write(toFile: dir + "/log-speaker.json", atomically: false, encoding: .utf8)
            // Another plugin, to show the others carry on.
            try PluginBuild.logSpeaker(to: dir + "/other.so", [#"LOG_SPEAKER_ID="t.other""#])
            try writeJSON(["log": scratch + "/other.txt"], to: dir + "/other.json")
        }
        let settings = lab.plugins.path + "/log-speaker.json"

        // An array: refused at start, the plugin never created.
        var refused = try XCTUnwrap(try rejection(lab, of: "log-speaker.so"), "log-speaker.so is refused")
        XCTAssertEqual(refused["error"] as? String, "settings file \(settings): expected a JSON object, got an array")
        XCTAssertEqual(refused["serving_older_generation"] as? Bool, false)
        XCTAssertNil(try loaded(lab, logID))
        XCTAssertTrue(lab.daemon.log().contains("plugins: rejected settings file \(settings): expected a JSON object"), "logged")

        // Invalid JSON, then bytes that are not UTF-8 (a Latin-1 é at byte 12): each edit is looked at
        // again and refused with its own reason.
        try #"{"log": "x", "speakers": ["#.write(toFile: settings, atomically: false, encoding: .utf8)
        refused = try waitForRejection(lab, of: "log-speaker.so", containing: "settings file \(settings): not valid JSON")
        try Data(#"{"log": "caf"#.utf8 + [0xE9] + #""}"#.utf8).write(to: URL(fileURLWithPath: settings))
        refused = try waitForRejection(lab, of: "log-speaker.so", containing: "settings file \(settings): not valid UTF-8 at byte 12")
        XCTAssertEqual(lab.log(logFile), [], "the plugin was never created with bad settings")

        // The offline check gives the same reason.
        let check = try DaemonProcess.run(arguments: ["plugin", "check", lab.plugins.path + "/log-speaker.so"])
        XCTAssertEqual(check.status, 1)
        XCTAssertTrue(check.output.contains("settings file \(settings): not valid UTF-8 at byte 12"), check.output)

        // Meanwhile the other plugin and the daemon work.
        XCTAssertEqual(try lab.request("plugin/t.other/echo", ["text": "hi"])["status"] as? String, "ok")
        XCTAssertEqual(try lab.request("health")["status"] as? String, "ok")

        // Fixed: the watcher loads it.
        try writeJSON(["log": logFile, "speakers": ["Kitchen"]], to: settings)
        XCTAssertTrue(waitUntil(timeout: 10, interval: 0.1) { (try? self.loaded(lab, self.logID)) != nil }, "loaded after the fix")
        XCTAssertNil(try rejection(lab, of: "log-speaker.so"))
        XCTAssertEqual(speakerNames(try loaded(lab, logID)), ["Kitchen"])
        XCTAssertEqual(try lab.request("plugin/\(logID)/volume", ["speaker": "log-kitchen", "level": 7])["status"] as? String, "ok")
        XCTAssertEqual(lab.log(logFile), ["command volume log-kitchen 7 false"])
    }

    func testEditingSettingsReloadsAndABadEditKeepsTheOldGenerationServing() throws {
        var logFile = ""
        let lab = try PluginDaemon { dir, scratch in
            logFile = scratch + "/log.txt"
            try PluginBuild.logSpeaker(to: dir + "/log-speaker.so")
            try writeJSON(["log": logFile, "speakers": ["Kitchen"]], to: dir + "/log-speaker.json")
        }
        let settings = lab.plugins.path + "/log-speaker.json"
        XCTAssertEqual(speakerNames(try loaded(lab, logID)), ["Kitchen"])
        XCTAssertEqual(try lab.request("plugin/\(logID)/echo", ["text": "one"])["generation"] as? Int, 1)

        // A new speaker in the settings: the plugin is reloaded and offers it, no reconnect.
        try writeJSON(["log": logFile, "speakers": ["Kitchen", "Attic"]], to: settings)
        XCTAssertTrue(waitUntil(timeout: 10, interval: 0.1) { self.speakerNames(try? self.loaded(lab, self.logID)) == ["Kitchen", "Attic"] },
                      "reloaded with the new speaker")
        let generation = try XCTUnwrap(try loaded(lab, logID)?["generation"] as? Int)
        XCTAssertGreaterThan(generation, 1)
        let bridgeInfo = try lab.client.waitFor("\(lab.base)/bridge/info") { (json($0)["speakers"] as? [[String: Any]])?.count == 2 }
        XCTAssertTrue(bridgeInfo.text.contains("Attic"), bridgeInfo.text)
        XCTAssertEqual(try lab.request("plugin/\(logID)/volume", ["speaker": "log-attic", "level": 9])["status"] as? String, "ok")
        XCTAssertEqual(lab.daemon.count("mqtt: connected to"), 1, "no reconnect")

        // A bad edit: refused with its reason, the running generation keeps serving.
        try "[\"Attic\"]".write(toFile: settings, atomically: false, encoding: .utf8)
        let refused = try waitForRejection(lab, of: "log-speaker.so", containing: "settings file \(settings): expected a JSON object, got an array")
        XCTAssertEqual(refused["serving_older_generation"] as? Bool, true)
        XCTAssertTrue(lab.daemon.log().contains("reload of \(logID) failed, generation \(generation) keeps serving: settings file"))
        let echo = try lab.request("plugin/\(logID)/echo", ["text": "still here"])
        XCTAssertEqual(echo["status"] as? String, "ok", "\(echo)")
        XCTAssertEqual(echo["generation"] as? Int, generation)
        XCTAssertEqual(speakerNames(try loaded(lab, logID)), ["Kitchen", "Attic"])

        // Deleting the file counts as a change too: without settings this plugin's create fails
        // (it needs "log"), so the old generation still serves; writing it again reloads.
        try FileManager.default.removeItem(atPath: settings)
        _ = try waitForRejection(lab, of: "log-speaker.so", containing: #"create failed: configuration: "log""#)
        XCTAssertEqual(try lab.request("plugin/\(logID)/echo", ["text": "x"])["generation"] as? Int, generation)
        try writeJSON(["log": logFile, "speakers": ["Porch"]], to: settings)
        XCTAssertTrue(waitUntil(timeout: 10, interval: 0.1) { self.speakerNames(try? self.loaded(lab, self.logID)) == ["Porch"] },
                      "created again: reloaded")
        XCTAssertNil(try rejection(lab, of: "log-speaker.so"))
        XCTAssertEqual(lab.daemon.count("mqtt: connected to"), 1, "no reconnect")
    }
}
