@testable import SpeakerbridgeHost
import XCTest

/// The settings service's typing rules, without a plugin: what counts as each type, and the
/// reasons a plugin gets for a value of another type.
final class PluginSettingsValueTests: XCTestCase {
    let settings = PluginSettings(json: #"""
        {"name": "Kitchen", "count": 3, "thousand": 1e3, "ratio": 1.5, "huge": 9007199254740993, "on": true,
         "nothing": null, "rooms": ["Bath", "Hall"], "mixed": ["Bath", {"a": 1}], "nul": "a\u0000b"}
        """#)

    func testValuesOfTheAskedType() {
        XCTAssertEqual(try settings.string("name").get(), "Kitchen")
        XCTAssertEqual(try settings.integer("count").get(), 3)
        XCTAssertEqual(try settings.integer("thousand").get(), 1000)
        XCTAssertEqual(try settings.number("ratio").get(), 1.5)
        XCTAssertEqual(try settings.number("count").get(), 3)
        XCTAssertEqual(try settings.bool("on").get(), true)
        XCTAssertEqual(try settings.stringList("rooms").get(), ["Bath", "Hall"])
    }

    func testAbsentAndNullLeaveTheDefault() {
        for key in ["absent", "nothing"] {
            XCTAssertNil(try settings.string(key).get())
            XCTAssertNil(try settings.integer(key).get())
            XCTAssertNil(try settings.number(key).get())
            XCTAssertNil(try settings.bool(key).get())
            XCTAssertNil(try settings.stringList(key).get())
        }
    }

    func testEveryWrongTypeSaysKeyExpectedAndGot() {
        func reason<T>(_ result: Result<T, PluginSettings.Problem>) -> String? {
            if case .failure(let problem) = result { return problem.description }
            return nil
        }
        XCTAssertEqual(reason(settings.integer("ratio")), #"setting "ratio": expected an integer, got the number 1.5"#)
        XCTAssertEqual(reason(settings.integer("huge")), #"setting "huge": expected an integer, got the number 9007199254740992"#)
        XCTAssertEqual(reason(settings.integer("name")), #"setting "name": expected an integer, got a string"#)
        XCTAssertEqual(reason(settings.number("on")), #"setting "on": expected a number, got a boolean (true)"#)
        XCTAssertEqual(reason(settings.bool("count")), #"setting "count": expected a boolean, got the number 3"#)
        XCTAssertEqual(reason(settings.string("rooms")), #"setting "rooms": expected a string, got an array"#)
        XCTAssertEqual(reason(settings.string("nul")), #"setting "nul": a string with a NUL character inside cannot be handed to a plugin"#)
        XCTAssertEqual(reason(settings.stringList("count")), #"setting "count": expected a list of strings, got the number 3"#)
        XCTAssertEqual(reason(settings.stringList("mixed")), #"setting "mixed"[1]: expected a string, got an object"#)
    }

    func testStringsHandedToCAreMadeOncePerKey() {
        let strings = PluginSettingsStrings()
        let first = strings.string("Kitchen", key: "name")
        XCTAssertEqual(strings.string("Kitchen", key: "name"), first)
        XCTAssertEqual(String(cString: first), "Kitchen")
        let (items, count) = strings.list(["Bath", "Hall"], key: "rooms")
        XCTAssertEqual(count, 2)
        XCTAssertEqual((0..<count).map { String(cString: items[$0]!) }, ["Bath", "Hall"])
        XCTAssertEqual(strings.list(["Bath", "Hall"], key: "rooms").0, items)
    }
}
