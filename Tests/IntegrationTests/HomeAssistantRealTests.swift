import Foundation
import LabKit
import XCTest

/// The daemon's MQTT discovery read by a real Home Assistant (2025.4, from the pinned venv that
/// `scripts/ha-env.sh` makes), not by our own reading of its documentation: a real mosquitto on
/// 127.0.0.1, the real daemon with the espeak-ng plugin and the log speaker, and HA set up as a user
/// does it (onboarding, the MQTT integration through its config flow). Everything is asserted
/// through HA's own APIs, as an automation would use them.
final class HomeAssistantRealTests: XCTestCase {
    /// The entities the daemon's discovery gives, by the end of their unique id (the part after
    /// the installation's node), with the domain HA must have made of each. The log speaker declares
    /// `volume` (and `echo`) only, so its device has the announce entity and the volume number and
    /// nothing else.
    static let bridgeEntities = [
        "bridge_announce": "notify", "bridge_connected": "binary_sensor", "bridge_version": "sensor",
        "bridge_pending_announcements": "sensor", "bridge_reload_plugins": "button", "bridge_announcement": "event",
    ]
    static let speakerID = "log-kitchen"
    static let speakerEntities = ["\(speakerID)_announce": "notify", "\(speakerID)_volume": "number"]
    /// A second speaker whose name (and so its id, `log-` + the name in ASCII lower case) has
    /// quotes, template braces, a space and non-ASCII: HA must take its configs as they are and its
    /// templates must not run the braces.
    static let oddName = #"Küche "Süd" {{x}} 🔊"#
    static let oddID = #"log-küche "süd" {{x}} 🔊"#

    func testDiscoveredEntitiesWorkInARealHomeAssistantAndComeBackAfterItsRestart() throws {
        let venv = try HomeAssistantVenv.prepare()
        let lab = try PluginDaemon.speech(speakers: ["Kitchen", Self.oddName])
        defer { lab.daemon.stopAndRemoveState() }
        let played = lab.scratch.file("speakers.txt")

        let ha = try HomeAssistant(venv: venv)
        defer { ha.stop() }
        try ha.start()
        let owner = try HomeAssistantClient.onboard(ha)
        try owner.waitUntilRunning()
        try owner.addMQTTBroker(host: "127.0.0.1", port: lab.broker.port)

        // The entities appear, each in the domain its config asks for, and become available.
        let wanted = Self.bridgeEntities.merging(Self.speakerEntities) { a, _ in a }
        var ids = try waitForEntities(owner, wanted)
        var odd = try waitForDeviceEntities(owner, named: Self.oddName, domains: ["notify", "number"])
        try waitUntilAvailable(owner, Array(ids.values) + Array(odd.values))
        XCTAssertEqual(try owner.state(ids["bridge_connected"]!)?["state"] as? String, "on")
        let info = json(try lab.client.waitFor("\(lab.base)/bridge/info", timeout: 10) { _ in true })
        XCTAssertEqual(try owner.state(ids["bridge_version"]!)?["state"] as? String, info["version"] as? String,
                       "the version sensor reads bridge/info")

        // Devices: the speaker's hangs off the bridge's, with what its driver says it is.
        try checkDevices(owner, ids)

        // notify.send_message on the speaker's notify entity: the words reach the log speaker.
        let sentence = "The washing machine has finished."
        try owner.call("notify", "send_message", ["entity_id": ids["\(Self.speakerID)_announce"]!, "message": sentence])
        let first = try waitForPlay(lab, played, speaker: Self.speakerID, count: 1)
        try assertClipSays(lab, url: first, sentence)
        let event = try waitForState(owner, ids["bridge_announcement"]!, "the announcement event entity shows `done`") {
            ($0["attributes"] as? [String: Any])?["event_type"] as? String == "done"
        }
        XCTAssertEqual((event["attributes"] as? [String: Any])?["speakers"] as? [String], ["Kitchen"], "\(event)")

        // The volume number: HA's command template reaches the driver's typed command.
        try owner.call("number", "set_value", ["entity_id": ids["\(Self.speakerID)_volume"]!, "value": 37])
        XCTAssertTrue(waitUntil(timeout: 15, interval: 0.1) {
            lab.log(played).contains { $0.hasPrefix("command volume \(Self.speakerID) 37 ") }
        }, "the log speaker got `volume 37`: \(lab.log(played))")

        // The odd speaker works the same: its text and volume reach the driver under its exact id.
        try owner.call("notify", "send_message", ["entity_id": odd["notify"]!, "message": "Odd names work."])
        try assertClipSays(lab, url: try waitForPlay(lab, played, speaker: Self.oddID, count: 1), "Odd names work.")
        try owner.call("number", "set_value", ["entity_id": odd["number"]!, "value": 12])
        XCTAssertTrue(waitUntil(timeout: 15, interval: 0.1) {
            lab.log(played).contains("command volume \(Self.oddID) 12 false")
        }, "the log speaker got `volume 12` for \(Self.oddID): \(lab.log(played))")

        // HA restarts with the same configuration directory, and while it is down the broker loses
        // our retained configs (as a broker without persistence does when it restarts): only the
        // daemon's answer to HA's birth message can bring the entities back. They come back
        // available, the same ones (no `_2` copies), and announcing still works.
        let configFilter = "homeassistant/+/+/+/config", birth = "homeassistant/status"
        try lab.client.subscribe(configFilter)
        try lab.client.subscribe(birth)
        // Six for the bridge, notify and number for each of the two speakers.
        let configTopics = Set(try lab.client.waitForCount(configFilter, count: 10).map(\.topic))
        let before = try owner.entityRegistry().filter { $0["platform"] as? String == "mqtt" }.count
        ha.stop()
        for topic in configTopics { try lab.client.publishAndWait(topic: topic, payload: [], retain: true) }
        lab.client.clearMessages()
        try ha.start()
        try owner.waitUntilRunning()
        ids = try waitForEntities(owner, wanted)
        odd = try waitForDeviceEntities(owner, named: Self.oddName, domains: ["notify", "number"])
        try waitUntilAvailable(owner, Array(ids.values) + Array(odd.values))
        let online = try lab.client.waitFor(birth) { $0.text == "online" }
        let republished = lab.client.messages(on: configFilter).filter { !$0.payload.isEmpty }
        XCTAssertEqual(Set(republished.map(\.topic)), configTopics, "every config published again")
        let early = republished.filter { $0.receivedAt < online.receivedAt }
        XCTAssertEqual(early.map(\.topic), [], "published again only after HA's birth message; early by "
                       + "\(early.map { online.receivedAt - $0.receivedAt })")
        XCTAssertEqual(try owner.entityRegistry().filter { $0["platform"] as? String == "mqtt" }.count, before,
                       "no entity registered twice after the restart")
        try owner.call("notify", "send_message", ["entity_id": ids["bridge_announce"]!, "message": "Back again."])
        let second = try waitForPlay(lab, played, speaker: Self.speakerID, count: 2)
        try assertClipSays(lab, url: second, "Back again.")

        // The bridge's reload button reloads the plugins (answered on the plugin-reload response).
        // Pressed last, so that nothing a reload sets off can run while HA restarts above.
        lab.client.clearMessages()
        try owner.call("button", "press", ["entity_id": ids["bridge_reload_plugins"]!])
        let reloaded = try lab.client.waitFor("\(lab.base)/bridge/response/plugins/reload", timeout: 15) { _ in true }
        XCTAssertEqual(json(reloaded)["status"] as? String, "ok", "\(json(reloaded))")

        // The daemon stops cleanly (retained `offline` on bridge/state): HA shows the bridge
        // disconnected and every other entity of ours unavailable, the speakers' included
        // (availability_mode all over the bridge's state and the speaker's own).
        lab.daemon.process.terminate()
        XCTAssertEqual(lab.daemon.process.waitForExit(timeout: 20), 0)
        try waitForState(owner, ids["bridge_connected"]!, "the connectivity sensor reads off") { $0["state"] as? String == "off" }
        let others = ids.filter { $0.key != "bridge_connected" }.map(\.value) + Array(odd.values)
        var states: [String: String] = [:]
        XCTAssertTrue(waitUntil(timeout: 15, interval: 0.25) {
            states = Dictionary(uniqueKeysWithValues: others.map { ($0, ((try? owner.state($0))??["state"] as? String) ?? "?") })
            return states.values.allSatisfy { $0 == "unavailable" }
        }, "unavailable once the bridge is offline: \(states)")

        // HA found nothing to complain about in our configs, before or after the restart.
        let problems = ha.mqttProblems(mentioning: [lab.base, "speakerbridge"])
        XCTAssertEqual(problems, [], "Home Assistant's log:\n" + problems.joined(separator: "\n"))
    }

    // MARK: - Helpers

    /// Waits until HA's entity registry holds an MQTT entity for each unique-id ending in `wanted`,
    /// and returns their entity ids by that key; each must be in the domain given.
    func waitForEntities(_ owner: HomeAssistantClient, _ wanted: [String: String], timeout: Double = 60) throws -> [String: String] {
        var found: [String: String] = [:]
        var registry: [[String: Any]] = []
        let all = waitUntil(timeout: timeout, interval: 0.5) {
            registry = ((try? owner.entityRegistry()) ?? []).filter { $0["platform"] as? String == "mqtt" }
            found = [:]
            for entry in registry {
                guard let unique = entry["unique_id"] as? String, let entity = entry["entity_id"] as? String else { continue }
                for key in wanted.keys where unique.hasSuffix("_" + key) { found[key] = entity }
            }
            return found.count == wanted.count
        }
        guard all else {
            let missing = wanted.keys.filter { found[$0] == nil }.sorted()
            let have = registry.map { "\($0["unique_id"] ?? "?") -> \($0["entity_id"] ?? "?")" }
            throw LabError("after \(Int(timeout)) s Home Assistant has no entity for \(missing); MQTT entities: \(have)")
        }
        for (key, entity) in found {
            XCTAssertTrue(entity.hasPrefix(wanted[key]! + "."), "\(key) became \(entity), expected a \(wanted[key]!)")
        }
        return found
    }

    /// The entities of the device called `name`, by domain, once there is exactly one of each of
    /// `domains` on it and nothing else.
    func waitForDeviceEntities(_ owner: HomeAssistantClient, named name: String, domains: Set<String>,
                               timeout: Double = 30) throws -> [String: String] {
        var found: [String] = []
        let ok = waitUntil(timeout: timeout, interval: 0.5) {
            guard let devices = try? owner.deviceRegistry(), let entities = try? owner.entityRegistry(),
                  let device = devices.first(where: { $0["name"] as? String == name })?["id"] as? String else { return false }
            found = entities.filter { $0["device_id"] as? String == device }.compactMap { $0["entity_id"] as? String }
            return found.count == domains.count && Set(found.map { String($0.prefix { $0 != "." }) }) == domains
        }
        guard ok else { throw LabError("the device “\(name)” has \(found), expected one each of \(domains.sorted())") }
        return Dictionary(uniqueKeysWithValues: found.map { (String($0.prefix { $0 != "." }), $0) })
    }

    func waitUntilAvailable(_ owner: HomeAssistantClient, _ entities: [String], timeout: Double = 30) throws {
        var states: [String: String] = [:]
        let ok = waitUntil(timeout: timeout, interval: 0.5) {
            let all = (try? owner.states()) ?? []
            states = [:]
            for s in all {
                if let id = s["entity_id"] as? String, entities.contains(id) { states[id] = s["state"] as? String }
            }
            return entities.allSatisfy { states[$0] != nil && states[$0] != "unavailable" }
        }
        guard ok else { throw LabError("not all available after \(Int(timeout)) s: \(states)") }
    }

    @discardableResult
    func waitForState(_ owner: HomeAssistantClient, _ entity: String, _ what: String, timeout: Double = 20,
                      _ condition: ([String: Any]) -> Bool) throws -> [String: Any] {
        var last: [String: Any]?
        guard waitUntil(timeout: timeout, interval: 0.25, {
            last = try? owner.state(entity)
            return last.map(condition) ?? false
        }) else { throw LabError("\(what): not within \(Int(timeout)) s, last state \(String(describing: last))") }
        return last ?? [:]
    }

    /// The bridge device and the speaker's device as HA registered them.
    func checkDevices(_ owner: HomeAssistantClient, _ ids: [String: String]) throws {
        let entities = try owner.entityRegistry()
        let devices = try owner.deviceRegistry()
        func device(of entity: String) -> [String: Any]? {
            let id = entities.first { $0["entity_id"] as? String == entity }?["device_id"] as? String
            return devices.first { $0["id"] as? String == id }
        }
        let bridge = try XCTUnwrap(device(of: ids["bridge_announce"]!), "the bridge's device")
        let speaker = try XCTUnwrap(device(of: ids["\(Self.speakerID)_announce"]!), "the speaker's device")
        XCTAssertEqual(speaker["via_device_id"] as? String, bridge["id"] as? String, "the speaker is reached via the bridge")
        XCTAssertEqual(speaker["name"] as? String, "Kitchen")
        XCTAssertEqual(speaker["model"] as? String, "Log speaker", "the driver's model")
        XCTAssertNotNil(speaker["manufacturer"] as? String)
        for key in Self.bridgeEntities.keys {
            XCTAssertEqual(device(of: ids[key]!)?["id"] as? String, bridge["id"] as? String, "\(key) belongs to the bridge")
        }
        // Only what the log speaker's driver declares: announce and volume, no mute, buttons or select.
        let onSpeaker = entities.filter { $0["device_id"] as? String == speaker["id"] as? String }
            .compactMap { $0["entity_id"] as? String }.sorted()
        XCTAssertEqual(onSpeaker, Self.speakerEntities.keys.map { ids[$0]! }.sorted())
    }

    /// The clip URL of the `count`th `play <speaker id> <url> <mime> <volume>` line in the log
    /// speaker's file (an id may hold spaces, so the line is cut after it, not split).
    func waitForPlay(_ lab: PluginDaemon, _ played: String, speaker: String, count: Int) throws -> String {
        let prefix = "play \(speaker) "
        var plays: [String] = []
        guard waitUntil(timeout: 30, interval: 0.1, {
            plays = lab.log(played).filter { $0.hasPrefix(prefix) }
            return plays.count >= count
        }) else { throw LabError("\(speaker) played \(plays.count) clips, expected \(count): \(lab.log(played))") }
        return String(plays[count - 1].dropFirst(prefix.count).prefix { $0 != " " })
    }

    /// The clip is the sentence: it lasts what espeak-ng's own rendering of the text lasts (±5 %).
    func assertClipSays(_ lab: PluginDaemon, url: String, _ text: String) throws {
        let got = lab.scratch.file("got.wav"), reference = lab.scratch.file("reference.wav")
        try Shell.runChecked(["curl", "-sf", "-o", got, url])
        try Shell.runChecked(["espeak-ng", "-w", reference, text])
        func seconds(_ file: String) throws -> Double {
            try XCTUnwrap(Double(try Shell.runChecked(["soxi", "-D", file]).trimmingCharacters(in: .whitespacesAndNewlines)))
        }
        let served = try seconds(got), own = try seconds(reference)
        XCTAssertEqual(served, own, accuracy: own * 0.05, "“\(text)”: clip \(served) s, espeak-ng \(own) s")
    }
}
