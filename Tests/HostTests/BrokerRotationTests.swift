import XCTest

@testable import SpeakerbridgeHost

final class BrokerRotationTests: XCTestCase {
    private let a = BrokerAddress(host: "10.0.0.1", port: 1883)
    private let b = BrokerAddress(host: "10.0.0.2", port: 1883)
    private let c = BrokerAddress(host: "10.0.0.3", port: 1884)

    func testFailuresMoveOnInListOrderAndRoundAgain() {
        var r = BrokerRotation(brokers: [a, b, c], choice: .auto)
        XCTAssertEqual(r.current, a)
        XCTAssertEqual(r.moveOn().to, b)
        XCTAssertEqual(r.moveOn().to, c)
        let last = r.moveOn()
        XCTAssertEqual(last.from, c)
        XCTAssertEqual(last.to, a)
    }

    func testAConnectionKeepsItsBroker() {
        var r = BrokerRotation(brokers: [a, b], choice: .auto)
        r.moveOn()
        r.accepted(.v5)
        // Nothing but a failure moves it: the first broker coming back changes nothing.
        XCTAssertEqual(r.current, b)
        XCTAssertEqual(r.version, .v5)
    }

    func testAutoFallsBackPerBrokerAndRemembersWhatWorked() {
        var r = BrokerRotation(brokers: [a, b], choice: .auto)
        XCTAssertEqual(r.version, .v5)
        XCTAssertTrue(r.refusedVersion5(), "auto retries the same broker with 3.1.1")
        XCTAssertEqual(r.current, a)
        XCTAssertEqual(r.version, .v311)
        XCTAssertTrue(r.negotiatedDown)
        r.accepted(.v311)
        XCTAssertFalse(r.refusedVersion5(), "a broker on 3.1.1 has nothing to fall back to")
        r.moveOn()
        XCTAssertEqual(r.version, .v5, "each broker is asked for MQTT 5 first")
        r.accepted(.v5)
        r.moveOn()
        XCTAssertEqual(r.version, .v311, "a remembered 3.1.1 broker is not asked for 5 again")
    }

    func testAFailed311AttemptProvesNothingAboutVersion5() {
        var r = BrokerRotation(brokers: [a, b], choice: .auto)
        XCTAssertTrue(r.refusedVersion5())
        // The 3.1.1 attempt got no CONNACK either (a restarting node): move on, and ask 5 again later.
        r.moveOn()
        r.moveOn()
        XCTAssertEqual(r.current, a)
        XCTAssertEqual(r.version, .v5)
    }

    func testAFixedVersionNeverFallsBack() {
        var five = BrokerRotation(brokers: [a], choice: .v5)
        XCTAssertFalse(five.refusedVersion5())
        XCTAssertEqual(five.version, .v5)
        let old = BrokerRotation(brokers: [a], choice: .v311)
        XCTAssertEqual(old.version, .v311)
    }

    // MARK: what counts as a refusal of MQTT 5

    private func attempt(_ name: String, code: Int = 7, tcpUp: Bool = true, connack: Bool = false) -> ProtocolRefusal.Attempt {
        .init(tcpUp: tcpUp, connackSeen: connack, reason: DisconnectReason(code: code, name: name, explanation: ""))
    }

    func testWhatRealBrokersDoToAVersion5ConnectCountsAsARefusal() {
        // NATS 2.9 and an MQTT 5 broker refusing the version: reason 0x84 (with a CONNACK).
        XCTAssertTrue(ProtocolRefusal.mayBeVersionRefusal(attempt("Unsupported Protocol Version", code: 0x84, connack: true)))
        // RabbitMQ 3.10: the socket closes with no CONNACK.
        XCTAssertTrue(ProtocolRefusal.mayBeVersionRefusal(attempt("MOSQ_ERR_CONN_LOST")))
        // amqtt: no answer at all to a CONNECT with properties.
        XCTAssertTrue(ProtocolRefusal.mayBeVersionRefusal(attempt("timeout", code: -1)))
        // Another 3.1.1 CONNACK read by a v5 client.
        XCTAssertTrue(ProtocolRefusal.mayBeVersionRefusal(attempt("MOSQ_ERR_PROTOCOL", code: 2)))
    }

    func testOtherFailuresAreNot() {
        XCTAssertFalse(ProtocolRefusal.mayBeVersionRefusal(attempt("unreachable", code: -1, tcpUp: false)), "nothing was asked")
        XCTAssertFalse(ProtocolRefusal.mayBeVersionRefusal(attempt("Bad user name or password", code: 0x86, connack: true)))
        XCTAssertFalse(ProtocolRefusal.mayBeVersionRefusal(attempt("CONNACK 5", code: 5, connack: true)))
        XCTAssertFalse(ProtocolRefusal.mayBeVersionRefusal(attempt("MOSQ_ERR_TLS", code: 8)))
    }
}
