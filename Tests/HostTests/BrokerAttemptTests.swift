import CMosquitto
import Foundation
import LabKit
import XCTest

@testable import SpeakerbridgeHost

/// The one-shot clients' connect (say, health, the doctor) against real brokers on 127.0.0.1:
/// mosquitto takes MQTT 5; nats-server speaks 3.1.1 only, so `auto` ends on 3.1.1 and a forced 5
/// is refused and said to be; a port nothing listens on is told apart at once.
final class BrokerAttemptTests: XCTestCase {
    private func attempt(_ port: Int, _ choice: Configuration.ProtocolChoice, timeout: Double = 5) -> BrokerAttempt.Result {
        var config = Configuration()
        config.mqtt.protocolChoice = choice
        let broker = BrokerAddress(host: "127.0.0.1", port: port)
        config.mqtt.brokers = [broker]
        let result = BrokerAttempt.negotiate(broker, config: config, login: nil, clientID: "brokerattempt-\(UInt32.random(in: 0...UInt32.max))",
                                             keepalive: 10, timeout: timeout)
        if let h = result.handle {
            mosquitto_disconnect(h)
            mosquitto_destroy(h)
        }
        return result
    }

    func testMosquittoTakesMQTT5() throws {
        let broker = try MosquittoBroker()
        try broker.start()
        defer { broker.stop() }
        let auto = attempt(broker.port, .auto)
        XCTAssertEqual(auto.end, .connected)
        XCTAssertEqual(auto.version, .v5)
        XCTAssertNil(auto.refusedVersion5)
        let old = attempt(broker.port, .v311)
        XCTAssertEqual(old.end, .connected)
        XCTAssertEqual(old.version, .v311)
    }

    func testNATSFallsBackTo311AndAForced5IsNamed() throws {
        guard NATSServer.isInstalled else {
            throw XCTSkip("nats-server is not installed (scripts/install-deps.sh test installs it)")
        }
        let nats = try NATSServer()
        try nats.start()
        defer { nats.terminate() }
        let started = Date()
        let auto = attempt(nats.port, .auto)
        XCTAssertEqual(auto.end, .connected)
        XCTAssertEqual(auto.version, .v311)
        XCTAssertEqual(auto.refusedVersion5, "it answered Unsupported Protocol Version")
        XCTAssertLessThan(Date().timeIntervalSince(started), 2, "the refusal is an answer: no timeout is waited for")

        let forced = attempt(nats.port, .v5)
        XCTAssertNil(forced.handle)
        XCTAssertEqual(forced.end, .connack(code: 0x84, v5: true))
        XCTAssertEqual(forced.version, .v5)
        XCTAssertNotNil(forced.refusedVersion5, "a forced 5 says the broker may need 3.1.1")
    }

    func testNothingListeningIsARefusalNotAVersionProblem() {
        let port = freePort()
        let started = Date()
        let result = attempt(port, .auto)
        XCTAssertEqual(result.end, .refused)
        XCTAssertNil(result.refusedVersion5, "no TCP connection says nothing about MQTT 5")
        XCTAssertLessThan(Date().timeIntervalSince(started), 1)
        XCTAssertEqual(result.end.text, "refused the connection (nothing listens on the port)")
    }
}
