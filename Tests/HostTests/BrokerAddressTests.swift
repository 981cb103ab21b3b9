import Foundation
import XCTest

@testable import SpeakerbridgeHost

/// `mqtt.brokers` entries and `--broker`: every accepted spelling, the defaults a scheme brings,
/// and an error that names the entry for each way of getting one wrong.
final class BrokerAddressTests: XCTestCase {
    private func parse(_ text: String) throws -> BrokerAddress { try BrokerAddress.parse(text).get() }

    private func error(_ text: String) -> String? {
        if case .failure(let e) = BrokerAddress.parse(text) { return e.description }
        return nil
    }

    func testEveryFormParses() throws {
        XCTAssertEqual(try parse("broker.lan"), BrokerAddress(host: "broker.lan", port: 1883))
        XCTAssertEqual(try parse("broker.lan:1884"), BrokerAddress(host: "broker.lan", port: 1884))
        XCTAssertEqual(try parse("  10.0.0.5:1885 "), BrokerAddress(host: "10.0.0.5", port: 1885))
        XCTAssertEqual(try parse("[::1]:1886"), BrokerAddress(host: "::1", port: 1886))
        XCTAssertEqual(try parse("[fe80::1]"), BrokerAddress(host: "fe80::1", port: 1883))
        XCTAssertEqual(try parse("::1"), BrokerAddress(host: "::1", port: 1883), "a bare IPv6 address has no port")
        XCTAssertEqual(try parse("mqtt://a.lan"), BrokerAddress(host: "a.lan", port: 1883, tls: false))
        XCTAssertEqual(try parse("mqtt://a.lan:2883/"), BrokerAddress(host: "a.lan", port: 2883, tls: false))
        XCTAssertEqual(try parse("mqtts://a.lan"), BrokerAddress(host: "a.lan", port: 8883, tls: true))
        XCTAssertEqual(try parse("MQTTS://[::1]:9883"), BrokerAddress(host: "::1", port: 9883, tls: true))
        XCTAssertEqual(try parse("ssl://a.lan").tls, true)
        XCTAssertEqual(try parse("tcp://a.lan").tls, false)
    }

    func testDescriptionReadsBackAsTheSameEntry() throws {
        for text in ["a.lan:1883", "[::1]:1886", "mqtt://a.lan:1883", "mqtts://[fe80::1]:8883"] {
            let address = try parse(text)
            XCTAssertEqual(address.description, text)
            XCTAssertEqual(try parse(address.description), address)
        }
    }

    func testTheEntryChoosesTLSElseTheSettingDoes() throws {
        var mqtt = Configuration.MQTT()
        XCTAssertFalse(try parse("a.lan").usesTLS(mqtt))
        XCTAssertTrue(try parse("mqtts://a.lan").usesTLS(mqtt))
        mqtt.tls.enabled = true
        XCTAssertTrue(try parse("a.lan").usesTLS(mqtt))
        XCTAssertFalse(try parse("mqtt://a.lan").usesTLS(mqtt), "mqtt:// is plain even with mqtt.tls.enabled")
    }

    func testEachMistakeNamesTheEntry() {
        XCTAssertEqual(error("http://a.lan"), "\"http://a.lan\": the scheme must be mqtt:// or mqtts://")
        XCTAssertEqual(error("[::1:1883"), "\"[::1:1883\": an IPv6 address needs its closing ]")
        XCTAssertEqual(error("[::1]1883"), "\"[::1]1883\": expected :PORT after the IPv6 address")
        XCTAssertEqual(error("a.lan:0"), "\"a.lan:0\": the port must be a number from 1 to 65535")
        XCTAssertEqual(error("a.lan:65536"), "\"a.lan:65536\": the port must be a number from 1 to 65535")
        XCTAssertEqual(error("a.lan:http"), "\"a.lan:http\": the port must be a number from 1 to 65535")
        XCTAssertEqual(error("a.lan:"), "\"a.lan:\": the port must be a number from 1 to 65535")
        XCTAssertEqual(error(":1883"), "\":1883\": expected host, host:port or mqtts://host:port")
        XCTAssertEqual(error("mqtts://"), "\"mqtts://\": expected host, host:port or mqtts://host:port")
        XCTAssertEqual(error("mqtt://a.lan/x"), "\"mqtt://a.lan/x\": expected host, host:port or mqtts://host:port")
    }

    func testAListInOrderWithoutDuplicates() throws {
        let list = try BrokerAddress.parseList("a.lan:1884, b.lan\nmqtts://c.lan  [::1]:1885").get()
        XCTAssertEqual(list.map(\.description), ["a.lan:1884", "b.lan:1883", "mqtts://c.lan:8883", "[::1]:1885"])
        XCTAssertEqual(try BrokerAddress.parseList("").get(), [])
        // The same host and port twice, even with another scheme, is one broker listed twice.
        for twice in ["a.lan, a.lan:1883", "a.lan:1883,mqtt://a.lan", "[::1]:1,[::1]:1"] {
            guard case .failure(let e) = BrokerAddress.parseList(twice) else { return XCTFail(twice) }
            XCTAssertTrue(e.description.hasSuffix("is listed twice"), e.description)
        }
        XCTAssertNoThrow(try BrokerAddress.parseList("a.lan:1883,a.lan:1884").get(), "two ports of one host are two brokers")
        guard case .failure(let bad) = BrokerAddress.parseList("a.lan,b.lan:x") else { return XCTFail("bad port") }
        XCTAssertEqual(bad.description, "\"b.lan:x\": the port must be a number from 1 to 65535")
    }

    func testOneBrokerFlagKeepsItsOldMeaningAndSeveralMakeAList() {
        XCTAssertEqual(BrokerFlags.flags([]), [:])
        XCTAssertEqual(BrokerFlags.flags(["a.lan"]), ["mqtt.host": "a.lan", "mqtt.brokers": ""],
                       "no port named: mqtt.port stays as configured")
        XCTAssertEqual(BrokerFlags.flags(["a.lan:1884"]), ["mqtt.host": "a.lan", "mqtt.port": "1884", "mqtt.brokers": ""])
        XCTAssertEqual(BrokerFlags.flags(["[::1]:1884"]), ["mqtt.host": "::1", "mqtt.port": "1884", "mqtt.brokers": ""])
        XCTAssertEqual(BrokerFlags.flags(["::1"]), ["mqtt.host": "::1", "mqtt.brokers": ""])
        // A port out of range still reaches mqtt.port, whose own check names it.
        XCTAssertEqual(BrokerFlags.flags(["a.lan:70000"]), ["mqtt.host": "a.lan", "mqtt.port": "70000", "mqtt.brokers": ""])
        XCTAssertEqual(BrokerFlags.flags(["mqtts://a.lan"]), ["mqtt.brokers": "mqtts://a.lan", "mqtt.host": "", "mqtt.port": ""])
        XCTAssertEqual(BrokerFlags.flags(["a.lan:1884", "b.lan"]),
                       ["mqtt.brokers": "a.lan:1884,b.lan", "mqtt.host": "", "mqtt.port": ""])
    }
}
