import Foundation
import XCTest
@testable import SpeakerbridgeHost

/// The check a plugin's `NAME.json` passes before `create`.
final class PluginSettingsFileTests: XCTestCase {
    private func problem(_ bytes: [UInt8]) -> String? {
        do { _ = try PluginSettingsFile.validate(bytes, path: "/p/x.json"); return nil } catch { return error.description }
    }

    func testAJSONObjectInUTF8IsHandedOnAsIs() throws {
        let text = #"{"speakers": ["Küche", "Bad"], "n": 1}"#
        XCTAssertEqual(try PluginSettingsFile.validate(Array(text.utf8), path: "/p/x.json"), text)
        XCTAssertEqual(try PluginSettingsFile.validate(Array("{}".utf8), path: "/p/x.json"), "{}")
    }

    func testEachProblemHasItsReasonNamingTheFile() {
        XCTAssertEqual(problem(Array("[1, 2]".utf8)), "settings file /p/x.json: expected a JSON object, got an array")
        XCTAssertEqual(problem(Array(#""text""#.utf8)), "settings file /p/x.json: expected a JSON object, got a string")
        XCTAssertEqual(problem(Array("null".utf8)), "settings file /p/x.json: expected a JSON object, got null")
        XCTAssertEqual(problem(Array(#"{"a": "#.utf8)).map { $0.hasPrefix("settings file /p/x.json: not valid JSON") }, true)
        XCTAssertEqual(problem([]).map { $0.hasPrefix("settings file /p/x.json: not valid JSON") }, true)
        XCTAssertEqual(problem(Array(#"{"a": "caf"#.utf8) + [0xE9] + Array(#""}"#.utf8)),
                       "settings file /p/x.json: not valid UTF-8 at byte 10")
    }

    func testTheFirstInvalidUTF8ByteIsFound() {
        XCTAssertNil(PluginSettingsFile.firstInvalidUTF8Offset(Array("añ€😀".utf8)))
        XCTAssertEqual(PluginSettingsFile.firstInvalidUTF8Offset([0xFF]), 0)
        XCTAssertEqual(PluginSettingsFile.firstInvalidUTF8Offset(Array("añ".utf8) + [0xC3]), 3, "a sequence cut short")
        XCTAssertEqual(PluginSettingsFile.firstInvalidUTF8Offset(Array("ab".utf8) + [0xED, 0xA0, 0x80]), 2, "a surrogate")
        XCTAssertEqual(PluginSettingsFile.firstInvalidUTF8Offset(Array("€".utf8) + [0xC0, 0x80]), 3, "an overlong NUL")
    }
}
