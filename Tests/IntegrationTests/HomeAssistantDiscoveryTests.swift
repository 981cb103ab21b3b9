import Foundation
import LabKit
import XCTest

/// Home Assistant MQTT discovery as the real daemon publishes it to a real mosquitto, with the log
/// speaker and the espeak-ng TTS plugin: the retained configs, what their command topics and
/// templates make the speaker do, the birth message, removal of a gone speaker, and `enabled: false`.
/// (Helper tests against a real Home Assistant live in HomeAssistantRealTests.)
final class HomeAssistantDiscoveryTests: XCTestCase {
    let clientID = "sb-ha-test"
    let hostileName = #"Küche "Süd" {{x}} 🔊"#

    /// The retained, non-empty configs a new subscriber gets now, by topic.
    func retainedConfigs(port: Int, settle: Double = 1.0) throws -> [String: [String: Any]] {
        let client = try watcher(port: port, ["homeassistant/#"])
        defer { client.disconnect() }
        Thread.sleep(forTimeInterval: settle)
        var configs: [String: [String: Any]] = [:]
        for m in client.messages(on: "homeassistant/+/+/+/config") where m.retain && !m.payload.isEmpty {
            let parsed = try JSONSerialization.jsonObject(with: Data(m.payload))
            configs[m.topic] = try XCTUnwrap(parsed as? [String: Any], m.topic)
        }
        return configs
    }

    func waitForConfigs(port: Int, count: Int, timeout: Double = 20) throws -> [String: [String: Any]] {
        var configs: [String: [String: Any]] = [:]
        let deadline = Date().addingTimeInterval(timeout)
        repeat {
            configs = try retainedConfigs(port: port, settle: 0.5)
            if configs.count == count { return configs }
        } while Date() < deadline
        XCTFail("expected \(count) retained configs, got \(configs.count): \(configs.keys.sorted())")
        return configs
    }

    func config(_ configs: [String: [String: Any]], component: String, speaker name: String?) -> [String: Any]? {
        configs.first { topic, c in
            topic.hasPrefix("homeassistant/\(component)/") && ((c["device"] as? [String: Any])?["name"] as? String) == (name ?? "speakerbridge")
        }?.value
    }

    /// Renders a command template the way Home Assistant does for these two expressions.
    func render(_ template: String, value: String) -> String {
        template.replacingOccurrences(of: "{{ value | to_json }}", with: String(decoding: try! JSONSerialization.data(withJSONObject: value, options: .fragmentsAllowed), as: UTF8.self))
            .replacingOccurrences(of: "{{ value | int }}", with: value)
    }

    func bridgeInfo(_ lab: PluginDaemon, where predicate: @escaping ([String: Any]) -> Bool) throws -> [String: Any] {
        json(try lab.client.waitFor("\(lab.base)/bridge/info", timeout: 20) { predicate(json($0)) })
    }

    func testRetainedConfigsForTheBridgeAndEachSpeakerOnlyForDeclaredCommandsAndTheyDriveTheSpeaker() throws {
        let lab = try PluginDaemon.speech(settings: ["mqtt.client_id": clientID], speakers: ["Kitchen", hostileName])
        let logFile = lab.scratch.file("speakers.txt")
        // 6 bridge entities; the log speaker declares `volume` only: notify + number per speaker.
        let configs = try waitForConfigs(port: lab.broker.port, count: 10)
        let pattern = try NSRegularExpression(pattern: "^homeassistant/[a-z_]+/[a-zA-Z0-9_-]+/[a-zA-Z0-9_-]+/config$")
        var uniqueIDs = Set<String>()
        for (topic, c) in configs {
            XCTAssertNotNil(pattern.firstMatch(in: topic, range: NSRange(topic.startIndex..., in: topic)), topic)
            XCTAssertTrue(uniqueIDs.insert(c["unique_id"] as? String ?? "").inserted, "unique_id of \(topic)")
            XCTAssertEqual((c["o"] as? [String: Any])?["name"] as? String, "speakerbridge", topic)
            XCTAssertNotNil((c["device"] as? [String: Any])?["identifiers"] as? [String], topic)
        }
        XCTAssertEqual(Set(configs.keys.filter { $0.contains("/\(clientID)/bridge_") }), Set([
            "notify/bridge_announce", "binary_sensor/bridge_connected", "sensor/bridge_version", "sensor/bridge_pending_announcements",
            "button/bridge_reload_plugins", "event/bridge_announcement",
        ].map { "homeassistant/\($0.split(separator: "/")[0])/\(clientID)/\($0.split(separator: "/")[1])/config" }))
        XCTAssertEqual(Set(configs.keys.filter { $0.contains("/speaker_log-kitchen_") }), [
            "homeassistant/notify/\(clientID)/speaker_log-kitchen_announce/config", "homeassistant/number/\(clientID)/speaker_log-kitchen_volume/config",
        ])
        let speakerComponents = configs.filter { $0.key.contains("/speaker_") }.map { $0.key.split(separator: "/")[1] }
        XCTAssertEqual(Set(speakerComponents), ["notify", "number"], "only the declared volume command becomes a control")

        // The state sensor's topic is the retained pending count.
        let pending = try XCTUnwrap(configs["homeassistant/sensor/\(clientID)/bridge_pending_announcements/config"])
        let pendingTopic = try XCTUnwrap(pending["state_topic"] as? String)
        XCTAssertEqual(pendingTopic, "\(lab.base)/bridge/announcements")
        let counts = try watcher(port: lab.broker.port, [pendingTopic])
        XCTAssertEqual(json(try counts.waitFor(pendingTopic) { $0.retain })["pending"] as? Int, 0)

        // Kitchen's notify: what Home Assistant publishes for notify.send_message makes it announce.
        let notify = try XCTUnwrap(config(configs, component: "notify", speaker: "Kitchen"))
        let topic = try XCTUnwrap(notify["command_topic"] as? String)
        XCTAssertEqual(topic, "\(lab.base)/log-kitchen/speak")
        try lab.client.publish(topic: topic, payload: render(try XCTUnwrap(notify["command_template"] as? String), value: "Dinner is ready, {{ 1 }}"), qos: 1)
        XCTAssertTrue(waitUntil(timeout: 30) { lab.log(logFile).contains { $0.hasPrefix("play log-kitchen ") } }, "\(lab.log(logFile))")
        let done = try lab.client.waitFor(lab.eventsTopic, timeout: 30) { json($0)["state"] as? String == "done" }
        XCTAssertEqual(json(done)["speakers"] as? [String], ["Kitchen"], done.text)

        // Kitchen's volume number: the command template reaches the driver's typed command.
        let volume = try XCTUnwrap(config(configs, component: "number", speaker: "Kitchen"))
        XCTAssertEqual(volume["min"] as? Int, 0)
        XCTAssertEqual(volume["max"] as? Int, 100)
        try lab.client.publish(topic: try XCTUnwrap(volume["command_topic"] as? String),
                               payload: render(try XCTUnwrap(volume["command_template"] as? String), value: "37"), qos: 1)
        XCTAssertTrue(waitUntil(timeout: 10) { lab.log(logFile).contains("command volume log-kitchen 37 false") }, "\(lab.log(logFile))")

        // The hostile name and id (quotes, braces, unicode) still give valid topics, JSON and a
        // working command topic.
        let odd = try XCTUnwrap(config(configs, component: "notify", speaker: hostileName), "\(configs.keys.sorted())")
        let oddTopic = try XCTUnwrap(odd["command_topic"] as? String)
        XCTAssertEqual(oddTopic, "\(lab.base)/log-küche \"süd\" {{x}} 🔊/speak")
        let oddVolume = try XCTUnwrap(config(configs, component: "number", speaker: hostileName))
        try lab.client.publish(topic: try XCTUnwrap(oddVolume["command_topic"] as? String),
                               payload: render(try XCTUnwrap(oddVolume["command_template"] as? String), value: "12"), qos: 1)
        XCTAssertTrue(waitUntil(timeout: 10) { lab.log(logFile).contains(#"command volume log-küche "süd" {{x}} 🔊 12 false"#) }, "\(lab.log(logFile))")

        // bridge/info says what discovery published (speakerbridge doctor reads it).
        let info = try bridgeInfo(lab) { (($0["homeassistant"] as? [String: Any])?["configs"] as? Int) == 10 }
        let ha = try XCTUnwrap(info["homeassistant"] as? [String: Any])
        XCTAssertEqual(ha["enabled"] as? Bool, true)
        XCTAssertEqual(ha["prefix"] as? String, "homeassistant")
        XCTAssertTrue(ha["birth_seen"] is NSNull, "\(ha)")
    }

    func testHomeAssistantsBirthMessageRepublishesEveryConfigAfterAShortDelay() throws {
        let lab = try PluginDaemon.speech(settings: ["mqtt.client_id": clientID], speakers: ["Kitchen"])
        _ = try waitForConfigs(port: lab.broker.port, count: 8)
        let ha = try watcher(port: lab.broker.port, ["homeassistant/+/+/+/config", "\(lab.base)/bridge/state", "\(lab.base)/+/availability"])
        Thread.sleep(forTimeInterval: 0.5)
        ha.clearMessages()
        let sent = ContinuousClock.now
        try lab.client.publishAndWait(topic: "homeassistant/status", payload: "online", qos: 1)
        let again = try ha.waitForCount("homeassistant/+/+/+/config", count: 8, timeout: 10)
        // The states the entities read come again too (a broker may have lost its retained store):
        // the bridge's, and the speaker's availability as its driver last reported it.
        let bridgeState = try ha.waitFor("\(lab.base)/bridge/state", timeout: 10) { !$0.retain }
        XCTAssertEqual(json(bridgeState)["state"] as? String, "online")
        let availability = try ha.waitFor("\(lab.base)/log-kitchen/availability", timeout: 10) { !$0.retain }
        XCTAssertEqual(String(decoding: availability.payload, as: UTF8.self), "online")
        XCTAssertEqual(Set(again.map(\.topic)).count, 8)
        XCTAssertTrue(again.allSatisfy { !$0.retain && !$0.payload.isEmpty }, "live re-publishes, not the retained copies")
        let delay = again.map(\.receivedAt).min()! - sent
        XCTAssertGreaterThanOrEqual(delay, .milliseconds(450), "the random 0.5-3 s delay")
        XCTAssertLessThan(delay, .seconds(5))
        let info = try bridgeInfo(lab) { (($0["homeassistant"] as? [String: Any])?["birth_seen"] as? String) != nil }
        XCTAssertNotNil((info["homeassistant"] as? [String: Any])?["birth_seen"] as? String)
        // `offline` (Home Assistant stopping) changes nothing.
        ha.clearMessages()
        try lab.client.publishAndWait(topic: "homeassistant/status", payload: "offline", qos: 1)
        Thread.sleep(forTimeInterval: 3.5)
        XCTAssertEqual(ha.messages(on: "homeassistant/#").count, 0)
    }

    func testASpeakerGoneForRemoveAfterHasItsConfigsClearedAlsoAcrossARestart() throws {
        let settings = ["mqtt.client_id": clientID, "homeassistant.remove_after": "2s"]
        let lab = try PluginDaemon.speech(settings: settings, speakers: ["Kitchen", "Bath", "Hall"])
        _ = try waitForConfigs(port: lab.broker.port, count: 12)
        let clears = try watcher(port: lab.broker.port, ["homeassistant/+/+/+/config"])
        Thread.sleep(forTimeInterval: 0.5)
        clears.clearMessages()

        // Bath leaves (the log speaker's settings change; the daemon reloads the plugin).
        let settingsFile = lab.plugins.file("log-speaker.json")
        try writeJSON(["log": lab.scratch.file("speakers.txt"), "speakers": ["Kitchen", "Hall"]], to: settingsFile)
        var cleared: [ReceivedMessage] = []
        XCTAssertTrue(waitUntil(timeout: 20) {
            cleared = clears.messages(on: "homeassistant/+/+/+/config").filter { $0.payload.isEmpty }
            return cleared.count >= 2
        })
        Thread.sleep(forTimeInterval: 0.5)
        cleared = clears.messages(on: "homeassistant/+/+/+/config").filter { $0.payload.isEmpty }
        XCTAssertEqual(Set(cleared.map(\.topic)), [
            "homeassistant/notify/\(clientID)/speaker_log-bath_announce/config", "homeassistant/number/\(clientID)/speaker_log-bath_volume/config",
        ])
        XCTAssertEqual(try retainedConfigs(port: lab.broker.port).count, 10)
        XCTAssertTrue(lab.daemon.log().contains("speaker log-bath unseen for 2.0 s"), "logged")

        // Hall leaves while the daemon is stopped: the next start knows its configs from the state
        // directory and clears them once remove_after has passed since it was last seen.
        lab.daemon.process.terminate()
        XCTAssertEqual(lab.daemon.process.waitForExit(timeout: 15), 0)
        try writeJSON(["log": lab.scratch.file("speakers.txt"), "speakers": ["Kitchen"]], to: settingsFile)
        let next = try lab.daemon.sibling(brokerPort: lab.broker.port, settings: [
            "plugins.path": lab.plugins.path, "media.bind": "127.0.0.1", "mqtt.client_id": clientID, "homeassistant.remove_after": "2s",
        ])
        try next.start()
        defer { next.process.terminate(); _ = next.process.waitForExit(timeout: 15) }
        XCTAssertTrue(waitUntil(timeout: 20) { ((try? self.retainedConfigs(port: lab.broker.port, settle: 0.3).count) ?? 0) == 8 },
                      "Hall's two configs cleared after the restart")
        XCTAssertNil(try retainedConfigs(port: lab.broker.port).keys.first { $0.contains("log-hall") })
    }

    func testDisabledPublishesNothingAndRemovesNothing() throws {
        // First enabled, so configs are on the broker; then disabled with a speaker gone.
        let lab = try PluginDaemon.speech(settings: ["mqtt.client_id": clientID, "homeassistant.remove_after": "1s"], speakers: ["Kitchen", "Bath"])
        _ = try waitForConfigs(port: lab.broker.port, count: 10)
        lab.daemon.process.terminate()
        XCTAssertEqual(lab.daemon.process.waitForExit(timeout: 15), 0)
        try writeJSON(["log": lab.scratch.file("speakers.txt"), "speakers": ["Kitchen"]], to: lab.plugins.file("log-speaker.json"))

        let ha = try watcher(port: lab.broker.port, ["homeassistant/#"])
        Thread.sleep(forTimeInterval: 1)
        ha.clearMessages()
        let next = try lab.daemon.sibling(brokerPort: lab.broker.port, settings: [
            "plugins.path": lab.plugins.path, "media.bind": "127.0.0.1", "mqtt.client_id": clientID,
            "homeassistant.enabled": "false", "homeassistant.remove_after": "1s",
        ])
        try next.start()
        defer { next.process.terminate(); _ = next.process.waitForExit(timeout: 15) }
        let info = try bridgeInfo(lab) { (($0["homeassistant"] as? [String: Any])?["enabled"] as? Bool) == false && ($0["plugins"] as? [Any])?.isEmpty == false }
        XCTAssertEqual((info["homeassistant"] as? [String: Any])?["configs"] as? Int, 0)
        try lab.client.publishAndWait(topic: "homeassistant/status", payload: "online", qos: 1)
        Thread.sleep(forTimeInterval: 4)
        XCTAssertEqual(ha.messages(on: "homeassistant/+/+/+/config").map(\.topic), [], "nothing published, nothing cleared")
        XCTAssertEqual(try retainedConfigs(port: lab.broker.port).count, 10, "the earlier configs stay")
        XCTAssertFalse(next.log().contains("homeassistant: birth message"), next.log())
    }

    func testSwitchedOnInAResumedSessionItStillHearsTheBirthMessage() throws {
        // The broker keeps the session of a daemon that ran without discovery; the filter for
        // `<prefix>/status` is not in it, and the next daemon resumes that session.
        let lab = try PluginDaemon.speech(settings: ["mqtt.client_id": clientID, "homeassistant.enabled": "false"], speakers: ["Kitchen"])
        _ = try bridgeInfo(lab) { ($0["plugins"] as? [Any])?.isEmpty == false }
        lab.daemon.process.terminate()
        XCTAssertEqual(lab.daemon.process.waitForExit(timeout: 15), 0)
        let next = try lab.daemon.sibling(brokerPort: lab.broker.port, settings: [
            "plugins.path": lab.plugins.path, "media.bind": "127.0.0.1", "mqtt.client_id": clientID,
        ])
        try next.start()
        defer { next.process.terminate(); _ = next.process.waitForExit(timeout: 15) }
        _ = try waitForConfigs(port: lab.broker.port, count: 8)
        XCTAssertTrue(next.log().contains("session resumed"), next.log())
        try lab.client.publishAndWait(topic: "homeassistant/status", payload: "online", qos: 1)
        let info = try bridgeInfo(lab) { (($0["homeassistant"] as? [String: Any])?["birth_seen"] as? String) != nil }
        XCTAssertEqual((info["homeassistant"] as? [String: Any])?["enabled"] as? Bool, true)
    }
}
