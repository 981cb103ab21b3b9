import Foundation
import Synchronization
import XCTest

@testable import SpeakerbridgeHost

/// The discovery payload builders and the publish/remove rounds, without a daemon: what Home
/// Assistant is told for the bridge and each speaker, only for declared commands, with ids and
/// names that are hostile.
final class HomeAssistantConfigTests: XCTestCase {
    let context = DiscoveryContext(prefix: "homeassistant", baseTopic: "sb", clientID: "speakerbridge-host-0a1b2c3d", version: "9.9.9")

    func speaker(_ id: String, name: String = "Kitchen", commands: [(String, String)]) throws -> DiscoveredSpeaker {
        DiscoveredSpeaker(speaker: SpeakerInfo(id: id, name: name, model: "Play:1", group: nil, address: nil),
                          driver: "org.example.driver", manufacturer: "Example", driverVersion: "1.2.3",
                          commands: try commands.map { .init(name: $0.0, signature: try CommandSignature.parse($0.1)) })
    }

    static let logSpeakerCommands = [("volume", "speaker:str level:i32[0..100] ramp:bool=false"), ("echo", "text:str times:u32[1..10]=1"), ("count", "")]
    static let sonosCommands = [
        ("play", "speaker:str"), ("pause", "speaker:str"), ("stop", "speaker:str"), ("toggle", "speaker:str"), ("next", "speaker:str"),
        ("previous", "speaker:str"), ("seek", "speaker:str position:str? track:u32=0"), ("volume", "speaker:str level:i32[0..100]"),
        ("mute", "speaker:str"), ("unmute", "speaker:str"), ("joingroup", "speaker:str group:str"), ("playmode", "speaker:str mode:str"),
    ]

    func object(_ c: DiscoveryConfig) -> [String: JSONValue] { c.payload.objectValue ?? [:] }

    /// Home Assistant's discovery topic pattern (homeassistant/components/mqtt/discovery.py).
    func assertDiscoveryTopic(_ topic: String, file: StaticString = #filePath, line: UInt = #line) {
        let levels = topic.split(separator: "/", omittingEmptySubsequences: false)
        XCTAssertEqual(levels.count, 5, topic, file: file, line: line)
        XCTAssertEqual(levels.first, "homeassistant", file: file, line: line)
        XCTAssertEqual(levels.last, "config", file: file, line: line)
        for level in levels.dropFirst().dropLast() {
            XCTAssertTrue(!level.isEmpty && level.utf8.allSatisfy { b in
                (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5a) || (b >= 0x61 && b <= 0x7a) || b == 0x5f || b == 0x2d
            }, "level \(level) of \(topic)", file: file, line: line)
        }
    }

    func assertCommon(_ c: DiscoveryConfig, file: StaticString = #filePath, line: UInt = #line) {
        let o = object(c)
        XCTAssertNotNil(o["unique_id"]?.stringValue, file: file, line: line)
        XCTAssertNotNil(o["device"]?["identifiers"]?.arrayValue?.first?.stringValue, file: file, line: line)
        XCTAssertNotNil(o["device"]?["name"]?.stringValue, file: file, line: line)
        XCTAssertEqual(o["o"]?["name"]?.stringValue, "speakerbridge", file: file, line: line)
        XCTAssertEqual(o["o"]?["sw"]?.stringValue, "9.9.9", file: file, line: line)
        // What goes on the wire parses back to the same document.
        XCTAssertEqual(try JSONValue.parse(Array(c.payload.serialized().utf8)), c.payload, file: file, line: line)
        assertDiscoveryTopic(c.topic(prefix: context.prefix, node: context.node), file: file, line: line)
    }

    func testBridgeDeviceHasItsSixEntities() {
        let configs = BridgeEntities.configs(context)
        XCTAssertEqual(configs.map { "\($0.component)/\($0.object)" }, [
            "notify/bridge_announce", "binary_sensor/bridge_connected", "sensor/bridge_version",
            "sensor/bridge_pending_announcements", "button/bridge_reload_plugins", "event/bridge_announcement",
        ])
        configs.forEach { assertCommon($0) }
        let byKey = Dictionary(uniqueKeysWithValues: configs.map { ($0.object, object($0)) })
        XCTAssertEqual(configs[0].topic(prefix: "homeassistant", node: context.node),
                       "homeassistant/notify/speakerbridge-host-0a1b2c3d/bridge_announce/config")
        XCTAssertEqual(byKey["bridge_announce"]?["command_topic"], "sb/speak")
        XCTAssertEqual(byKey["bridge_announce"]?["unique_id"], "speakerbridge-host-0a1b2c3d_bridge_announce")
        XCTAssertEqual(byKey["bridge_announce"]?["object_id"], "speakerbridge_announce")
        XCTAssertEqual(byKey["bridge_connected"]?["state_topic"], "sb/bridge/state")
        XCTAssertEqual(byKey["bridge_connected"]?["device_class"], "connectivity")
        XCTAssertNil(byKey["bridge_connected"]?["availability"], "offline must read as off, not unavailable")
        XCTAssertEqual(byKey["bridge_version"]?["state_topic"], "sb/bridge/info")
        XCTAssertEqual(byKey["bridge_pending_announcements"]?["state_topic"], "sb/bridge/announcements")
        XCTAssertEqual(byKey["bridge_reload_plugins"]?["command_topic"], "sb/bridge/request/plugins/reload")
        XCTAssertEqual(byKey["bridge_announcement"]?["state_topic"], "sb/bridge/event/announcement")
        XCTAssertEqual(byKey["bridge_announcement"]?["event_types"], ["queued", "playing", "done", "failed"])
        XCTAssertEqual(byKey["bridge_version"]?["availability"], [["topic": "sb/bridge/state", "value_template": "{{ value_json.state }}"]])
        XCTAssertEqual(byKey["bridge_version"]?["device"]?["identifiers"], ["speakerbridge_speakerbridge-host-0a1b2c3d"])
    }

    func testLogSpeakerGetsAnnounceAndVolumeOnly() throws {
        let configs = SpeakerEntities.configs(try speaker("log-kitchen", commands: Self.logSpeakerCommands), context)
        XCTAssertEqual(configs.map { "\($0.component)/\($0.object)" }, ["notify/speaker_log-kitchen_announce", "number/speaker_log-kitchen_volume"])
        configs.forEach { assertCommon($0) }
        let notify = object(configs[0]), volume = object(configs[1])
        XCTAssertEqual(notify["command_topic"], "sb/log-kitchen/speak")
        XCTAssertEqual(notify["command_template"], #"{"text": {{ value | to_json }}}"#)
        XCTAssertEqual(volume["command_topic"], "sb/log-kitchen/set")
        XCTAssertEqual(volume["command_template"], #"{"command": "volume", "level": {{ value | int }}}"#)
        XCTAssertEqual(volume["min"], 0)
        XCTAssertEqual(volume["max"], 100)
        XCTAssertEqual(volume["state_topic"], "sb/log-kitchen/state")
        XCTAssertEqual(volume["unique_id"], "speakerbridge-host-0a1b2c3d_log-kitchen_volume")
        XCTAssertEqual(volume["object_id"], "log_kitchen_volume")
        XCTAssertEqual(volume["availability_mode"], "all")
        XCTAssertEqual(volume["availability"]?.arrayValue?.last, ["topic": "sb/log-kitchen/availability"])
        let device = try XCTUnwrap(volume["device"]?.objectValue)
        XCTAssertEqual(device["via_device"], "speakerbridge_speakerbridge-host-0a1b2c3d")
        XCTAssertEqual(device["identifiers"], ["speakerbridge_speakerbridge-host-0a1b2c3d_log-kitchen"])
        XCTAssertEqual(device["manufacturer"], "Example")
        XCTAssertEqual(device["model"], "Play:1")
        XCTAssertEqual(device["name"], "Kitchen")
    }

    func testSonosCommandsGiveEveryControl() throws {
        let configs = SpeakerEntities.configs(try speaker("living_room", commands: Self.sonosCommands), context)
        XCTAssertEqual(configs.map { "\($0.component)/\($0.object)" }, [
            "notify/speaker_living_room_announce", "number/speaker_living_room_volume", "switch/speaker_living_room_mute",
            "button/speaker_living_room_play", "button/speaker_living_room_pause", "button/speaker_living_room_stop",
            "button/speaker_living_room_next", "button/speaker_living_room_previous", "select/speaker_living_room_play_mode",
            "sensor/speaker_living_room_transport",
        ])
        configs.forEach { assertCommon($0) }
        let by = Dictionary(uniqueKeysWithValues: configs.map { ($0.object, object($0)) })
        XCTAssertEqual(by["speaker_living_room_mute"]?["payload_on"], #"{"command":"mute"}"#)
        XCTAssertEqual(by["speaker_living_room_mute"]?["payload_off"], #"{"command":"unmute"}"#)
        XCTAssertEqual(by["speaker_living_room_pause"]?["payload_press"], #"{"command":"pause"}"#)
        XCTAssertEqual(by["speaker_living_room_play_mode"]?["command_template"], #"{"command": "playmode", "mode": {{ value | to_json }}}"#)
        XCTAssertEqual(by["speaker_living_room_play_mode"]?["options"]?.arrayValue?.count, 6)
        XCTAssertEqual(by["speaker_living_room_transport"]?["json_attributes_topic"], "sb/living_room/state")
        for key in ["title", "artist", "album"] {
            XCTAssertTrue(by["speaker_living_room_transport"]?["json_attributes_template"]?.stringValue?.contains("'\(key)'") == true, key)
        }
    }

    func testCommandsNeedingMoreThanTheValueGetNoEntity() throws {
        // `play` wanting a required extra argument, `volume` without a numeric parameter, `mute`
        // without `unmute`, `playmode` of a plugin that takes no speaker: none is callable from HA.
        let configs = SpeakerEntities.configs(try speaker("k", commands: [
            ("play", "speaker:str uri:str"), ("volume", "speaker:str level:str"), ("mute", "speaker:str"), ("playmode", "mode:str"),
        ]), context)
        XCTAssertEqual(configs.map(\.component), ["notify"])
    }

    func testHostileIdsAndNamesStillGiveValidTopicsAndJSON() throws {
        let hostile = ["a/b", "x#y", "p+q", #"quote"d"#, "{{ 7*7 }}{% raw %}", "Küche 🔊", "bridge", "", String(repeating: "ü", count: 80)]
        var tokens = Set<String>()
        for id in hostile {
            let s = try speaker(id, name: #"Name "with" {{ quotes }} / # 🔊"#, commands: Self.sonosCommands)
            let configs = SpeakerEntities.configs(s, context)
            XCTAssertGreaterThan(configs.count, 1, id)
            configs.forEach { assertCommon($0) }
            tokens.insert(DiscoveryNames.token(id))
            for c in configs {
                let o = object(c)
                for key in ["command_topic", "state_topic"] {
                    guard let topic = o[key]?.stringValue else { continue }
                    XCTAssertFalse(topic.contains("+") || topic.contains("#"), "\(key) \(topic) of \(id)")
                }
                for key in ["command_template", "value_template", "json_attributes_template"] {
                    guard let template = o[key]?.stringValue else { continue }
                    // The id never opens template code: its braces and % arrive as \u escapes.
                    XCTAssertFalse(template.contains("{{ 7*7") || template.contains("{% raw") || template.contains("{{ quotes"), "\(key) of \(id): \(template)")
                }
            }
            let notify = object(configs[0])
            if DiscoveryNames.isRoutableLevel(id) {
                XCTAssertEqual(notify["command_topic"]?.stringValue, "sb/\(id)/speak")
            } else {
                XCTAssertEqual(notify["command_topic"], "sb/speak", id)
                // What HA renders from the template is JSON naming the speaker by its exact id.
                let rendered = try XCTUnwrap(notify["command_template"]?.stringValue).replacingOccurrences(of: "{{ value | to_json }}", with: #""hi""#)
                let parsed = try JSONValue.parse(Array(rendered.utf8))
                XCTAssertEqual(parsed["speakers"], [.string(id)], rendered)
                XCTAssertEqual(parsed["text"], "hi")
                let volume = try XCTUnwrap(configs.first { $0.component == "number" }.map(object))
                XCTAssertEqual(volume["command_topic"], "sb/bridge/request/plugin/org.example.driver/volume")
                let setRendered = try XCTUnwrap(volume["command_template"]?.stringValue).replacingOccurrences(of: "{{ value | int }}", with: "5")
                XCTAssertEqual(try JSONValue.parse(Array(setRendered.utf8)), ["speaker": .string(id), "level": 5])
                XCTAssertFalse(configs.contains { $0.component == "switch" }, "mute + unmute would need two topics")
            }
            let availability = notify["availability"]?.arrayValue ?? []
            XCTAssertEqual(availability.count, DiscoveryNames.isPublishable(id) ? 2 : 1, id)
        }
        XCTAssertEqual(tokens.count, hostile.count, "every id its own token")
    }

    func testTokensAreStableAndSafeIdsStayAsTheyAre() {
        XCTAssertEqual(DiscoveryNames.token("log-kitchen"), "log-kitchen")
        XCTAssertEqual(DiscoveryNames.token("RINCON_000E58A1B2C301400"), "RINCON_000E58A1B2C301400")
        // A pure function of the id: the same on every run (FNV-1a, not Swift's seeded Hasher).
        XCTAssertEqual(DiscoveryNames.token(#"log-küche "süd""#), "log-k__che__s__d__bcdec046")
        XCTAssertNotEqual(DiscoveryNames.token("a/b"), DiscoveryNames.token("a#b"))
        XCTAssertEqual(DiscoveryNames.slug("log-Küche  2"), "log_k_che_2")
        XCTAssertEqual(DiscoveryNames.slug("🔊"), "speaker")
    }

    // MARK: rounds

    func testRoundPublishesChangesOnlyUnlessForcedAndClearsUndeclaredCommands() throws {
        var round = DiscoveryRound(context: context, removeAfter: 100, ledger: DiscoveryLedger())
        let sonos = try speaker("k", commands: Self.sonosCommands)
        let first = round.next(speakers: [sonos], now: 1000, force: false, mayRemove: true, pending: 0)
        round.commit()
        XCTAssertEqual(first.messages.count, 6 + 10 + 1, "configs and the pending state")
        XCTAssertTrue(first.ledgerChanged)
        XCTAssertEqual(round.configCount, 16)
        XCTAssertTrue(round.next(speakers: [sonos], now: 1001, force: false, mayRemove: true, pending: 0).messages.isEmpty)
        round.commit()
        XCTAssertEqual(round.next(speakers: [sonos], now: 1002, force: true, mayRemove: true, pending: 0).messages.count, 17)
        round.commit()

        // A reload that drops the transport commands: their entities are cleared, nothing else sent.
        let fewer = try speaker("k", commands: [("volume", "speaker:str level:i32[0..100]")])
        let after = round.next(speakers: [fewer], now: 1003, force: false, mayRemove: true, pending: 0)
        round.commit()
        XCTAssertEqual(Set(after.messages.filter { $0.payload.isEmpty }.map(\.topic)), Set([
            "switch/speaker_k_mute", "button/speaker_k_play", "button/speaker_k_pause", "button/speaker_k_stop", "button/speaker_k_next",
            "button/speaker_k_previous", "select/speaker_k_play_mode", "sensor/speaker_k_transport",
        ].map { "homeassistant/\($0.split(separator: "/")[0])/\(context.node)/\($0.split(separator: "/")[1])/config" }))
        XCTAssertTrue(after.messages.allSatisfy(\.retain))
        XCTAssertEqual(round.configCount, 8)
    }

    func testGoneSpeakerIsRemovedOnlyAfterRemoveAfterAndNotBeforeRemovalIsAllowed() throws {
        var round = DiscoveryRound(context: context, removeAfter: 60, ledger: DiscoveryLedger())
        let kitchen = try speaker("kitchen", commands: Self.logSpeakerCommands), bath = try speaker("bath", name: "Bath", commands: Self.logSpeakerCommands)
        _ = round.next(speakers: [kitchen, bath], now: 1000, force: false, mayRemove: true, pending: nil)
        round.commit()
        XCTAssertTrue(round.next(speakers: [kitchen], now: 1059, force: false, mayRemove: true, pending: nil).messages.isEmpty)
        round.commit()
        XCTAssertTrue(round.next(speakers: [kitchen], now: 1061, force: false, mayRemove: false, pending: nil).messages.isEmpty, "start-up grace")
        round.commit()
        let gone = round.next(speakers: [kitchen], now: 1061, force: false, mayRemove: true, pending: nil)
        XCTAssertEqual(gone.removedSpeakers, ["bath"])
        XCTAssertEqual(gone.messages.map(\.topic).sorted(), [
            "homeassistant/notify/\(context.node)/speaker_bath_announce/config", "homeassistant/number/\(context.node)/speaker_bath_volume/config",
        ])
        XCTAssertTrue(gone.messages.allSatisfy { $0.payload.isEmpty && $0.retain })
        // Not committed (the spool refused it): the next round sends the same removal again.
        XCTAssertEqual(round.next(speakers: [kitchen], now: 1062, force: false, mayRemove: true, pending: nil).removedSpeakers, ["bath"])
        round.commit()
        XCTAssertNil(round.ledger.speakers["bath"])
        XCTAssertNotNil(round.ledger.speakers["kitchen"])
    }

    func testLedgerSurvivesARestartAndAMovedPrefixClearsTheOldConfigs() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("ha-ledger-\(UUID())").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/homeassistant.json"
        var round = DiscoveryRound(context: context, removeAfter: 60, ledger: DiscoveryLedger())
        let odd = try speaker(#"odd "id" ü"#, commands: Self.logSpeakerCommands)
        _ = round.next(speakers: [odd], now: 1000, force: false, mayRemove: true, pending: nil)
        round.commit()
        try round.ledger.save(path: path)
        let loaded = DiscoveryLedger.load(path: path, logger: .init(label: "test"))
        XCTAssertEqual(loaded, round.ledger)

        let moved = DiscoveryContext(prefix: "ha2", baseTopic: "sb", clientID: context.clientID, version: "9.9.9")
        var next = DiscoveryRound(context: moved, removeAfter: 60, ledger: loaded)
        let result = next.next(speakers: [odd], now: 1001, force: false, mayRemove: true, pending: nil)
        let cleared = result.messages.filter { $0.payload.isEmpty }.map(\.topic)
        XCTAssertEqual(cleared.count, 6 + 2)
        XCTAssertTrue(cleared.allSatisfy { $0.hasPrefix("homeassistant/") })
        XCTAssertEqual(result.messages.filter { !$0.payload.isEmpty }.count, 8)

        try Data("not json".utf8).write(to: URL(fileURLWithPath: path))
        XCTAssertEqual(DiscoveryLedger.load(path: path, logger: .init(label: "test")), DiscoveryLedger(), "a broken file starts afresh")
    }

    func testBirthIntakeTakesOnlyTheStatusTopic() {
        final class Recorder: MessageIntake, @unchecked Sendable {
            // @unchecked: the test calls it from one thread only.
            var topics: [String] = []
            func receive(topic: String, payload: UnsafeRawBufferPointer, qos: Int32, mid: Int32, responseTopic: String?, correlationData: [UInt8]?) -> Bool {
                topics.append(topic)
                return true
            }
        }
        let recorder = Recorder()
        let births = Mutex(0)
        let intake = BirthIntake(prefix: "homeassistant", next: recorder, birth: { births.withLock { $0 += 1 } })
        func send(_ topic: String, _ text: String) -> Bool {
            Array(text.utf8).withUnsafeBytes { intake.receive(topic: topic, payload: $0, qos: 1, mid: 1, responseTopic: nil, correlationData: nil) }
        }
        XCTAssertTrue(send("homeassistant/status", "online"))
        XCTAssertTrue(send("homeassistant/status", "offline"))
        XCTAssertTrue(send("sb/speak", "hello"))
        XCTAssertEqual(births.withLock { $0 }, 1)
        XCTAssertEqual(recorder.topics, ["sb/speak"])
    }
}
