import Foundation
import LabKit
import XCTest

/// The settings host service (`SB_HOST_EXT_SETTINGS`): a C plugin reads its `NAME.json` as typed
/// values, gets its defaults for absent keys, and a clear reason for a value of another type.
final class PluginSettingsServiceTests: XCTestCase {
    let probeID = "org.speakerbridge.test.settings-probe"

    func testEachTypeDefaultsAndWrongTypesReachAPlugin() throws {
        let lab = try PluginDaemon { dir, _ in
            try PluginBuild.fixture("settings_probe", to: dir + "/settings-probe.so")
            try writeJSON([
                "name": "Kitchen", "count": 3, "thousand": 1e3, "ratio": 1.5, "enabled": false, "nothing": NSNull(),
                "rooms": ["Bath", "Hall"], "none": [String](), "mixed": ["Bath", 2], "digits": "12", "must_be_integer": 5,
            ], to: dir + "/settings-probe.json")
            // A copy whose create reads a string as an integer and fails with the service's reason.
            try PluginBuild.fixture("settings_probe", to: dir + "/strict.so", [#"PROBE_ID="t.strict""#])
            try writeJSON(["must_be_integer": "five"], to: dir + "/strict.json")
        }
        func read(_ key: String, _ type: String) throws -> [String: Any] {
            let answer = try lab.request("plugin/\(probeID)/read", ["key": key, "type": type])
            XCTAssertEqual(answer["status"] as? String, "ok", "\(answer)")
            return answer["data"] as? [String: Any] ?? [:]
        }
        func assertRead(_ key: String, _ type: String, status: Int = 0, value: Any, error: String = "",
                        file: StaticString = #filePath, line: UInt = #line) throws {
            let got = try read(key, type)
            XCTAssertEqual(got["status"] as? Int, status, "\(key) as \(type): \(got)", file: file, line: line)
            XCTAssertEqual(got["value"].map { "\($0)" }, "\(value)", "\(key) as \(type): \(got)", file: file, line: line)
            XCTAssertEqual(got["error"] as? String, error, "\(key) as \(type)", file: file, line: line)
        }
        let invalid = -1  // SB_ERR_INVALID

        // Each type: the value, the default for an absent key and for null.
        try assertRead("name", "string", value: "Kitchen")
        try assertRead("absent", "string", value: "fallback")
        try assertRead("nothing", "string", value: "fallback")
        try assertRead("count", "integer", value: 3)
        try assertRead("thousand", "integer", value: 1000)
        try assertRead("absent", "integer", value: -1)
        try assertRead("ratio", "number", value: 1.5)
        try assertRead("count", "number", value: 3)
        try assertRead("absent", "number", value: 0.25)
        try assertRead("enabled", "bool", value: 0)
        try assertRead("absent", "bool", value: 1)
        try assertRead("rooms", "string_list", value: ["Bath", "Hall"])
        try assertRead("none", "string_list", value: [String]())
        try assertRead("absent", "string_list", value: ["default-room"])

        // Wrong types: the default, SB_ERR_INVALID and a reason naming the key and both types.
        try assertRead("ratio", "integer", status: invalid, value: -1,
                       error: #"setting "ratio": expected an integer, got the number 1.5"#)
        try assertRead("digits", "integer", status: invalid, value: -1, error: #"setting "digits": expected an integer, got a string"#)
        try assertRead("name", "number", status: invalid, value: 0.25, error: #"setting "name": expected a number, got a string"#)
        try assertRead("count", "bool", status: invalid, value: 1, error: #"setting "count": expected a boolean, got the number 3"#)
        try assertRead("enabled", "string", status: invalid, value: "fallback", error: #"setting "enabled": expected a string, got a boolean (false)"#)
        try assertRead("name", "string_list", status: invalid, value: ["default-room"],
                       error: #"setting "name": expected a list of strings, got a string"#)
        try assertRead("mixed", "string_list", status: invalid, value: ["default-room"],
                       error: #"setting "mixed"[1]: expected a string, got the number 2"#)
        try assertRead("count", "null_out", status: invalid, value: "<null>",
                       error: "settings: the key and the out-parameter must not be NULL")
        XCTAssertTrue(lab.daemon.log().contains(#"setting "ratio": expected an integer, got the number 1.5"#), "the host logs the reason")

        // create can hand the reason straight through: the plugin is refused with it.
        let rejected = (try lab.info()["rejected"] as? [[String: Any]] ?? []).first { ($0["file"] as? String)?.hasSuffix("/strict.so") == true }
        XCTAssertEqual(rejected?["error"] as? String, #"t.strict: create failed: setting "must_be_integer": expected an integer, got a string"#)
    }
}

extension PluginSettingsServiceTests {
    /// PluginKit's `host.settings`: the Swift example reads its greeting through the service, and a
    /// greeting of the wrong type refuses the plugin with the host's reason.
    func testASwiftPluginReadsItsSettingsThroughPluginKit() throws {
        let library = ((try DaemonProcess.binaryPath() as NSString).deletingLastPathComponent) + "/libSwiftEchoSpeaker.so"
        guard FileManager.default.fileExists(atPath: library) else {
            return XCTFail("\(library) is missing: build the package (swift build) before the tests")
        }
        let lab = try PluginDaemon { dir, _ in
            try PluginBuild.install(library, as: dir + "/swift-echo.so")
            try writeJSON(["greeting": 5], to: dir + "/swift-echo.json")
        }
        let rejected = (try lab.info()["rejected"] as? [[String: Any]] ?? []).first { ($0["file"] as? String)?.hasSuffix("/swift-echo.so") == true }
        XCTAssertEqual(rejected?["error"] as? String,
                       #"org.speakerbridge.example.swift-echo: create failed: setting "greeting": expected a string, got the number 5"#)

        // Fixed: the watcher reloads it, and the greeting arrives.
        try writeJSON(["greeting": "Tere"], to: lab.plugins.path + "/swift-echo.json")
        XCTAssertTrue(waitUntil(timeout: 10, interval: 0.1) { lab.daemon.log().contains("Tere (swift-echo ready)") }, "greeting read")
    }
}
