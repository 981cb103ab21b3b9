import Foundation
import LabKit
import XCTest

@testable import SpeakerbridgeHost

/// Every kind of config the builders make, put through the pinned Home Assistant's own discovery
/// code (abbreviations, the origin schema, each platform's DISCOVERY_SCHEMA) and template engine.
/// The real-Home-Assistant test runs only the log speaker's entities; this covers the Sonos shape
/// (switch, buttons, select, transport sensor) and a hostile id, in a couple of seconds.
final class HomeAssistantSchemaTests: XCTestCase {
    static let script = #"""
        import asyncio, importlib, json, sys
        from homeassistant.core import HomeAssistant
        from homeassistant.helpers import frame
        from homeassistant.helpers.template import Template
        from homeassistant.components.mqtt import discovery
        from homeassistant.components.mqtt.schemas import MQTT_ORIGIN_INFO_SCHEMA

        async def main(path, workdir):
            hass = HomeAssistant(workdir)
            frame.async_setup(hass)
            data = json.load(open(path))
            result = {"errors": [], "values": {}, "commands": {}}
            for c in data["configs"]:
                payload = dict(c["payload"])
                discovery._replace_all_abbreviations(payload)
                try:
                    MQTT_ORIGIN_INFO_SCHEMA(payload["origin"])
                    importlib.import_module("homeassistant.components.mqtt." + c["component"]).DISCOVERY_SCHEMA(payload)
                except Exception as e:
                    result["errors"].append(c["topic"] + ": " + repr(e))
            for key, (template, message) in data["values"].items():
                result["values"][key] = Template(template, hass).async_render_with_possible_json_value(message, "")
            for key, (template, value) in data["commands"].items():
                result["commands"][key] = Template(template, hass).async_render({"value": value}, parse_result=False)
            print(json.dumps(result))

        asyncio.run(main(sys.argv[1], sys.argv[2]))
        """#

    func testEveryConfigPassesHomeAssistantsDiscoverySchemaAndItsTemplatesRenderAsMeant() throws {
        let venv = try HomeAssistantVenv.prepare()
        let context = DiscoveryContext(prefix: "homeassistant", baseTopic: "sb", clientID: "speakerbridge-host-0a1b2c3d")
        func speaker(_ id: String) throws -> DiscoveredSpeaker {
            DiscoveredSpeaker(speaker: SpeakerInfo(id: id, name: "Living Room", model: "Play:1", group: nil, address: nil),
                              driver: "org.speakerbridge.sonos", manufacturer: "Sonos", driverVersion: "1.0",
                              commands: try HomeAssistantConfigTests.sonosCommands.map { .init(name: $0.0, signature: try CommandSignature.parse($0.1)) })
        }
        let sonos = SpeakerEntities.configs(try speaker("living_room"), context)
        let hostile = SpeakerEntities.configs(try speaker(#"a/b#"c" {{ 7*7 }}"#), context)
        let all = BridgeEntities.configs(context) + sonos + hostile
        XCTAssertEqual(Set(all.map(\.component)), ["notify", "number", "switch", "button", "select", "sensor", "binary_sensor", "event"])
        func field(_ configs: [DiscoveryConfig], _ component: String, _ key: String) throws -> String {
            try XCTUnwrap(configs.first { $0.component == component }?.payload[key]?.stringValue, "\(component).\(key)")
        }
        let state = #"{"state":"playing","volume":23,"mute":true,"title":"Song","artist":"Band","play_mode":"SHUFFLE"}"#
        let bare = #"{"state":"playing","url":"http://x/clip.wav"}"#
        let values: [String: JSONValue] = [
            "volume": [.string(try field(sonos, "number", "value_template")), .string(state)],
            "volume_missing": [.string(try field(sonos, "number", "value_template")), .string(bare)],
            "mute": [.string(try field(sonos, "switch", "value_template")), .string(state)],
            "mute_missing": [.string(try field(sonos, "switch", "value_template")), .string(bare)],
            "play_mode": [.string(try field(sonos, "select", "value_template")), .string(state)],
            "transport": [.string(try field(sonos, "sensor", "value_template")), .string(state)],
            "attributes": [.string(try field(sonos, "sensor", "json_attributes_template")), .string(state)],
            "event": [.string(try field(BridgeEntities.configs(context), "event", "value_template")),
                      .string(#"{"id":null,"state":"done","speakers":["Kitchen"],"at":"2026-12-05T10:00:00.000Z"}"#)],
            "connected": [.string(try field(BridgeEntities.configs(context), "binary_sensor", "value_template")), .string(#"{"state":"online"}"#)],
        ]
        let commands: [String: JSONValue] = [
            "volume": [.string(try field(sonos, "number", "command_template")), 37],
            "play_mode": [.string(try field(sonos, "select", "command_template")), "repeat_all"],
            "announce": [.string(try field(sonos, "notify", "command_template")), #"He said "hi" {{ 7*7 }}"#],
            "hostile_announce": [.string(try field(hostile, "notify", "command_template")), "hello"],
            "hostile_volume": [.string(try field(hostile, "number", "command_template")), 12],
        ]
        let input: JSONValue = [
            "configs": .array(all.map { ["topic": .string($0.topic(prefix: context.prefix, node: context.node)), "component": .string($0.component), "payload": $0.payload] }),
            "values": .object(values), "commands": .object(commands),
        ]
        let dir = try TempDirectory(prefix: "ha-schema")
        defer { dir.remove() }
        try input.serialized().write(toFile: dir.file("input.json"), atomically: true, encoding: .utf8)
        try Self.script.write(toFile: dir.file("check.py"), atomically: true, encoding: .utf8)
        try FileManager.default.createDirectory(atPath: dir.file("config"), withIntermediateDirectories: true)
        let out = try Shell.runChecked([venv + "/bin/python", dir.file("check.py"), dir.file("input.json"), dir.file("config")])
        let result = try XCTUnwrap(try JSONValue.parse(Array((out.split(separator: "\n").last.map(String.init) ?? "").utf8)).objectValue, out)

        XCTAssertEqual(result["errors"], [], "Home Assistant refuses a config")
        let v = try XCTUnwrap(result["values"]?.objectValue)
        XCTAssertEqual(v["volume"], "23")
        XCTAssertEqual(v["volume_missing"], "", "a state without the field is ignored, not an error")
        XCTAssertEqual(v["mute"], "ON")
        XCTAssertEqual(v["mute_missing"], "")
        XCTAssertEqual(v["play_mode"], "shuffle")
        XCTAssertEqual(v["transport"], "playing")
        XCTAssertEqual(v["connected"], "online")
        XCTAssertEqual(try JSONValue.parse(Array((v["attributes"]?.stringValue ?? "").utf8)), ["title": "Song", "artist": "Band", "album": .null])
        XCTAssertEqual(try JSONValue.parse(Array((v["event"]?.stringValue ?? "").utf8)),
                       ["event_type": "done", "id": .null, "speakers": ["Kitchen"], "reason": .null])
        let c = try XCTUnwrap(result["commands"]?.objectValue)
        func parsed(_ key: String) throws -> JSONValue { try JSONValue.parse(Array((c[key]?.stringValue ?? "").utf8)) }
        XCTAssertEqual(try parsed("volume"), ["command": "volume", "level": 37])
        XCTAssertEqual(try parsed("play_mode"), ["command": "playmode", "mode": "repeat_all"])
        XCTAssertEqual(try parsed("announce"), ["text": #"He said "hi" {{ 7*7 }}"#], "the message is data, never template code")
        XCTAssertEqual(try parsed("hostile_announce"), ["text": "hello", "speakers": [#"a/b#"c" {{ 7*7 }}"#]])
        XCTAssertEqual(try parsed("hostile_volume"), ["speaker": #"a/b#"c" {{ 7*7 }}"#, "level": 12])
    }
}
