import Foundation
import Logging
import XCTest

@testable import SpeakerbridgeHost

/// The `health` answer and `bridge/info` say which broker of the list the daemon is on, every
/// broker in order, the version the broker took (not the configured choice) and the last failover.
final class BrokerDocumentsTests: XCTestCase {
    private let a = BrokerAddress(host: "a.lan", port: 1884)
    private let b = BrokerAddress(host: "b.lan", port: 1885, tls: true)

    private func config() -> Configuration {
        var c = Configuration()
        c.mqtt.brokers = [a, b]
        return c
    }

    private func status(connected: Bool, failover: SessionStatus.Failover?) -> SessionStatus {
        var s = SessionStatus()
        s.connected = connected
        s.broker = b.description
        s.brokers = [a.description, b.description]
        s.protocolVersion = .v311
        s.lastFailover = failover
        return s
    }

    private func health(_ s: SessionStatus) async throws -> JSONValue {
        let dir = NSTemporaryDirectory() + "brokerdocs-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let spool = try Spool(directory: dir, durability: .process, maxOutbound: 100, dedupWindow: 3600, logger: Logger(label: "test"))
        let handler = HealthHandler(config: config(), status: SessionStatusBox(s), spool: spool, broker: nil, startedAt: Date())
        return try await handler.handle(BridgeRequest(name: "health", fields: [:]))
    }

    func testHealthNamesTheBrokerTheListTheProtocolAndTheFailover() async throws {
        let at = Date(timeIntervalSince1970: 1_800_000_000)
        let moved = SessionStatus.Failover(from: a.description, to: b.description, reason: "MOSQ_ERR_CONN_LOST: gone", at: at)
        let h = try await health(status(connected: true, failover: moved))
        XCTAssertEqual(h["broker"], "mqtts://b.lan:1885")
        XCTAssertEqual(h["brokers"], ["a.lan:1884", "mqtts://b.lan:1885"])
        XCTAssertEqual(h["mqtt_protocol"], "3.1.1")
        XCTAssertEqual(h["failover"]?["from"], "a.lan:1884")
        XCTAssertEqual(h["failover"]?["to"], "mqtts://b.lan:1885")
        XCTAssertEqual(h["failover"]?["reason"], "MOSQ_ERR_CONN_LOST: gone")
        XCTAssertEqual(h["failover"]?["at"], .timestamp(at))

        let quiet = try await health(status(connected: false, failover: nil))
        XCTAssertEqual(quiet["failover"], .null, "no move yet")
        XCTAssertEqual(quiet["mqtt_protocol"], .null, "not connected: no version was negotiated")
    }

    func testInfoSaysTheCurrentBrokerNotTheFirst() {
        let info = BridgeInfo(config: config(), clientID: "me").infoDocument(status(connected: true, failover: nil))
        XCTAssertEqual(info["broker"], "mqtts://b.lan:1885")
        XCTAssertEqual(info["brokers"], ["a.lan:1884", "mqtts://b.lan:1885"])
        XCTAssertEqual(info["mqtt_protocol"], "3.1.1")
        XCTAssertEqual(info["embedded_broker"], false)
        // Before the session said anything, the configuration's first broker.
        let early = BridgeInfo(config: config(), clientID: "me").infoDocument(SessionStatus())
        XCTAssertEqual(early["broker"], "a.lan:1884")
        XCTAssertEqual(early["brokers"], ["a.lan:1884", "mqtts://b.lan:1885"])
    }
}
