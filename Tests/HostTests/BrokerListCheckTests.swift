import Foundation
import XCTest

@testable import SpeakerbridgeHost

/// The doctor with `mqtt.brokers`: one verdict per broker, a broker that does not work is a warning
/// while another one does, the version each broker took, a list of one and MQTT 5 forced on a
/// broker that refused it are named, and the session check says where the daemon is.
final class BrokerListCheckTests: XCTestCase {
    private let a = BrokerAddress(host: "10.0.0.1", port: 1884)
    private let b = BrokerAddress(host: "10.0.0.2", port: 1885)

    private func config(_ brokers: [BrokerAddress], _ body: (inout Configuration) -> Void = { _ in }) -> Configuration {
        var c = Configuration()
        c.mqtt.brokers = brokers
        c.stateDirectory = NSTemporaryDirectory() + "brokerlist-\(UInt32.random(in: 0...UInt32.max))"
        body(&c)
        return c
    }

    func testABrokerDownBesideAWorkingOneIsAWarning() {
        let checks = BrokerCheck.checks(config([a, b]), [
            .init(broker: a, outcome: .refused),
            .init(broker: b, outcome: .connected, version: .v5),
        ])
        XCTAssertEqual(checks.map(\.name), ["broker 1", "broker 2"])
        XCTAssertEqual(checks.map(\.verdict), [.warn, .ok])
        XCTAssertEqual(checks[0].summary, "10.0.0.1:1884 refused the connection: nothing listens on port 1884")
        XCTAssertTrue(checks[0].details.last?.contains("can use 10.0.0.2:1885") ?? false, "\(checks[0].details)")
        XCTAssertEqual(checks[1].summary, "connected to 10.0.0.2:1885 with no login (anonymous) (MQTT 5)")
        XCTAssertFalse(DoctorReport(checks: checks).failed)
    }

    func testEveryBrokerDownFails() {
        let checks = BrokerCheck.checks(config([a, b]), [
            .init(broker: a, outcome: .refused), .init(broker: b, outcome: .timedOut(10)),
        ])
        XCTAssertEqual(checks.map(\.verdict), [.fail, .fail])
        XCTAssertEqual(checks[1].summary, "no answer from 10.0.0.2:1885 within 10.0 s")
        XCTAssertTrue(DoctorReport(checks: checks).failed)
    }

    func testTheVersionTakenAndWhy() {
        let fellBack = BrokerCheck.checks(config([a, b]), [
            .init(broker: a, outcome: .connected, version: .v311, refusedVersion5: "it answered Unsupported Protocol Version"),
            .init(broker: b, outcome: .connected, version: .v5),
        ])
        XCTAssertEqual(fellBack.map(\.verdict), [.ok, .ok])
        XCTAssertTrue(fellBack[0].summary.hasSuffix("(MQTT 3.1.1)"), fellBack[0].summary)
        XCTAssertTrue(fellBack[0].details.first?.hasPrefix("it did not take MQTT 5 (it answered Unsupported Protocol Version)") ?? false,
                      "\(fellBack[0].details)")
    }

    func testMQTT5ForcedOnABrokerThatRefusedIt() {
        let forced = config([a, b]) { $0.mqtt.protocolChoice = .v5 }
        let checks = BrokerCheck.checks(forced, [
            .init(broker: a, outcome: .noAnswer("the connection ended before the broker answered"),
                  refusedVersion5: "it closed the connection without a CONNACK"),
            .init(broker: b, outcome: .connected, version: .v5),
        ])
        XCTAssertEqual(checks[0].verdict, .warn, "the daemon has the other broker")
        XCTAssertTrue(checks[0].summary.contains("does not take MQTT 5"), checks[0].summary)
        XCTAssertTrue(checks[0].fix?.contains("mqtt.protocol to auto") ?? false, checks[0].fix ?? "")
        let alone = BrokerCheck.checks(config([a]) { $0.mqtt.protocolChoice = .v5 }, [
            .init(broker: a, outcome: .rejected(code: 0x84, "Unsupported Protocol Version"), refusedVersion5: "it answered Unsupported Protocol Version"),
        ])
        XCTAssertEqual(alone.first?.verdict, .fail)
    }

    func testAListOfOneHasNothingToFailOverTo() {
        let checks = BrokerCheck.checks(config([a]), [.init(broker: a, outcome: .connected, version: .v5)])
        XCTAssertEqual(checks.map(\.name), ["broker", "brokers"])
        XCTAssertEqual(checks.map(\.verdict), [.ok, .warn])
        // A single mqtt.host is not a list: no such warning.
        var single = Configuration()
        single.mqtt.host = "10.0.0.1"
        XCTAssertEqual(BrokerCheck.checks(single, [.init(broker: single.brokerList[0], outcome: .connected)]).map(\.name), ["broker"])
    }

    func testTheSessionCheckSaysWhereTheDaemonIs() {
        let c = config([a, b]) { $0.mqtt.sessionExpiry = 0 }
        let health: JSONValue = [
            "connected": true, "session_resumed": false, "reconnects": 0, "client_id": "me",
            "broker": "10.0.0.2:1885", "mqtt_protocol": "3.1.1",
            "failover": ["from": "10.0.0.1:1884", "to": "10.0.0.2:1885", "reason": "unreachable: refused", "at": "2026-12-05T22:00:00Z"],
        ]
        let check = SessionCheck.check(c, DaemonAnswers(health: .data(health)), lock: .heldBy(pid: 1))
        XCTAssertEqual(check.verdict, .ok, "3.1.1 has no session expiry to be 0: \(check.summary)")
        XCTAssertTrue(check.details.contains("on 10.0.0.2:1885 with MQTT 3.1.1"), "\(check.details)")
        XCTAssertTrue(check.details.contains { $0.hasPrefix("last failover: from 10.0.0.1:1884 to 10.0.0.2:1885 (unreachable: refused)") },
                      "\(check.details)")
    }

    func testTheReportHasABrokerCheckPerEntry() {
        let c = config([a, b])
        let report = Doctor.report(config: c, file: nil, brokers: [
            .init(broker: a, outcome: .connected, version: .v5), .init(broker: b, outcome: .connected, version: .v311),
        ], daemon: DaemonAnswers(notAsked: "test"))
        XCTAssertEqual(report.checks.filter { $0.name.hasPrefix("broker") }.map(\.name), ["broker 1", "broker 2"])
    }
}
