import Foundation
import LabKit
import XCTest

/// Issue 15 on real brokers, small enough for CI: a list of mosquitto brokers with failover (and no
/// flapping back), the protocol fallback against a real MQTT 3.1.1-only broker (nats-server), the
/// non-retained heartbeat, retained requests at subscribe time versus a resumed session's queue, and
/// no bare TCP connection before connecting. Clusters (RabbitMQ, NATS) are BrokerClusterTests' job.
final class MultiBrokerTests: XCTestCase {
    /// How long a move to the next broker may take with DaemonUnderTest.fastReconnect: a backoff draw of
    /// at most max_delay (2 s), the connect itself, and room for a loaded CI machine.
    static let failoverBound = 5.0

    private func address(_ port: Int) -> String { "127.0.0.1:\(port)" }

    /// A daemon given every broker of `ports`, in order.
    private func daemon(brokers ports: [Int], settings: [String: String] = [:]) throws -> DaemonUnderTest {
        try DaemonUnderTest(brokerPort: ports[0], moreBrokers: ports.dropFirst().map(address), settings: settings)
    }

    /// A clean-session client on `port` that hears the daemon's state, info and answers.
    private func watcher(port: Int, _ daemon: DaemonUnderTest, protocolVersion: Int = 5) throws -> TestClient {
        let client = try TestClient(protocolVersion: protocolVersion)
        try client.connect(port: port)
        for filter in [daemon.topics.state, "\(daemon.base)/bridge/info", "\(daemon.base)/bridge/response/+"] {
            try client.subscribe(filter)
        }
        return client
    }

    /// The `data` of the daemon's answer to a `health` request sent through `client`.
    private func health(_ client: TestClient, _ daemon: DaemonUnderTest) throws -> [String: Any] {
        let answer = try BridgeRequester(client: client, base: daemon.base).request("health", timeout: 10)
        return answer.json["data"] as? [String: Any] ?? [:]
    }

    private func logLines(_ daemon: DaemonUnderTest, containing text: String) -> [String] {
        daemon.log().split(separator: "\n").map(String.init).filter { $0.contains(text) }
    }

    // MARK: failover

    func testKilledBrokerMovesTheDaemonToTheNextOneWhereItStays() throws {
        let brokers = try (0..<3).map { _ in try MosquittoBroker() }
        for b in brokers { try b.start() }
        let (a, b, c) = (brokers[0], brokers[1], brokers[2])
        let daemon = try daemon(brokers: brokers.map(\.port))
        defer { daemon.stopAndRemoveState() }
        let onA = try watcher(port: a.port, daemon)
        let onB = try watcher(port: b.port, daemon)
        let offsets = brokers.map(\.logText.count)
        try daemon.start()
        try waitForOnline(onA, daemon)
        XCTAssertEqual(logLines(daemon, containing: "mqtt: connected to \(address(a.port)) as ").count, 1, daemon.log())

        // mosquitto speaks MQTT 5: auto takes it at the first try.
        let before = try health(onA, daemon)
        XCTAssertEqual(before["broker"] as? String, address(a.port))
        XCTAssertEqual(before["brokers"] as? [String], brokers.map { address($0.port) })
        XCTAssertEqual(before["mqtt_protocol"] as? String, "5")
        XCTAssertTrue(before["failover"] is NSNull, "no failover yet: \(before["failover"] ?? "missing")")
        XCTAssertTrue(logLines(daemon, containing: "did not take MQTT 5").isEmpty, daemon.log())
        let clientID = try XCTUnwrap(before["client_id"] as? String)
        // Everything A saw of the daemon until now: every TCP connection carried a CONNECT.
        let probesOnA = a.connectionsWithoutConnect(after: offsets[0])

        let killed = ContinuousClock.now
        a.kill9()
        try daemon.process.waitForLog(containing: "mqtt: moving from \(address(a.port)) to \(address(b.port)): ",
                                      timeout: Self.failoverBound)
        try daemon.process.waitForLog(containing: "mqtt: connected to \(address(b.port)) as \(clientID) (MQTT 5, session new)",
                                      timeout: Self.failoverBound)
        let online = try waitForOnline(onB, daemon, after: killed, timeout: Self.failoverBound)
        let took = online.receivedAt - killed
        print("MultiBrokerTests: broker \(address(a.port)) killed -> online on \(address(b.port)) after \(took)")

        let after = try health(onB, daemon)
        XCTAssertEqual(after["connected"] as? Bool, true)
        XCTAssertEqual(after["broker"] as? String, address(b.port))
        XCTAssertEqual(after["brokers"] as? [String], brokers.map { address($0.port) })
        // Not XCTUnwrap: without it the rest (sticky, no probe) still gets checked.
        let failover = after["failover"] as? [String: Any]
        XCTAssertNotNil(failover, "health has no failover: \(after)")
        XCTAssertEqual(failover?["from"] as? String, address(a.port))
        XCTAssertEqual(failover?["to"] as? String, address(b.port))
        XCTAssertFalse((failover?["reason"] as? String ?? "").isEmpty, "failover without a reason: \(failover ?? [:])")
        XCTAssertNotNil(failover?["at"] as? String, "failover without a time: \(failover ?? [:])")
        let info = try onB.waitFor("\(daemon.base)/bridge/info", timeout: 5) { $0.receivedAt > killed }
        XCTAssertEqual(json(info)["broker"] as? String, address(b.port))
        XCTAssertEqual(json(info)["brokers"] as? [String], brokers.map { address($0.port) })
        XCTAssertEqual(json(info)["mqtt_protocol"] as? String, "5")

        // Sticky: the first broker comes back, the daemon stays where it is.
        try a.start()
        Thread.sleep(forTimeInterval: 5)
        let later = try health(onB, daemon)
        XCTAssertEqual(later["broker"] as? String, address(b.port))
        XCTAssertEqual(later["connected"] as? Bool, true)
        XCTAssertEqual(later["reconnects"] as? Int, after["reconnects"] as? Int, "the daemon reconnected while B was up")
        XCTAssertEqual(a.connections(of: clientID), 1, "the daemon went back to the first broker:\n\(daemon.log())")
        XCTAssertEqual(c.connections(of: clientID), 0, "the daemon skipped B for C:\n\(daemon.log())")
        XCTAssertTrue(logLines(daemon, containing: "mqtt: moving from \(address(b.port))").isEmpty, daemon.log())

        // No bare TCP probe before a connect, on any broker it tried (A before the kill, B after).
        // The check sees one: LabKit's own readiness probe when C started.
        XCTAssertFalse(c.connectionsWithoutConnect().isEmpty, "the log check misses LabKit's readiness probe")
        XCTAssertEqual(probesOnA, [], "connections to A without a CONNECT")
        XCTAssertEqual(b.connectionsWithoutConnect(after: offsets[1]), [], "connections to B without a CONNECT")
        XCTAssertEqual(c.connectionsWithoutConnect(after: offsets[2]), [], "connections to C without a CONNECT")
    }

    // MARK: protocol

    func testAutoFallsBackToMQTT311OnABrokerThatSpeaksOnlyThat() throws {
        guard NATSServer.isInstalled else { throw XCTSkip("nats-server is not installed (scripts/install-deps.sh test)") }
        let nats = try NATSServer()
        try nats.start()
        defer { nats.kill9() }
        let daemon = try DaemonUnderTest(brokerPort: nats.port)
        defer { daemon.stopAndRemoveState() }
        let watch = try watcher(port: nats.port, daemon, protocolVersion: 311)
        let started = ContinuousClock.now
        try daemon.start()
        try waitForOnline(watch, daemon, timeout: 15)
        print("MultiBrokerTests: online on nats-server with auto after \(ContinuousClock.now - started)")

        let fallbacks = logLines(daemon, containing: "mqtt: \(address(nats.port)) did not take MQTT 5 (")
        XCTAssertEqual(fallbacks.count, 1, daemon.log())
        XCTAssertTrue(fallbacks.first?.contains("; trying MQTT 3.1.1") == true, fallbacks.first ?? "")
        XCTAssertEqual(logLines(daemon, containing: "mqtt: connected to \(address(nats.port)) as ").filter {
            $0.contains("(MQTT 3.1.1, ")
        }.count, 1, daemon.log())

        let data = try health(watch, daemon)
        XCTAssertEqual(data["mqtt_protocol"] as? String, "3.1.1")
        XCTAssertEqual(data["broker"] as? String, address(nats.port))
        let info = try watch.waitFor("\(daemon.base)/bridge/info", timeout: 5)
        XCTAssertEqual(json(info)["mqtt_protocol"] as? String, "3.1.1")
    }

    func testForcedMQTT5OnABrokerThatSpeaksOnlyMQTT311SaysSo() throws {
        guard NATSServer.isInstalled else { throw XCTSkip("nats-server is not installed (scripts/install-deps.sh test)") }
        let nats = try NATSServer()
        try nats.start()
        defer { nats.kill9() }
        let daemon = try DaemonUnderTest(brokerPort: nats.port, settings: ["mqtt.protocol": "5"])
        defer { daemon.stopAndRemoveState() }
        try daemon.start()
        let admin = try AdminEndpoint.of(daemon)
        // A few refused attempts (fastReconnect: 0.2-2 s apart).
        Thread.sleep(forTimeInterval: 3)
        XCTAssertTrue(daemon.process.isRunning, daemon.log())
        XCTAssertTrue(logLines(daemon, containing: "mqtt: connected to").isEmpty, daemon.log())
        XCTAssertTrue(logLines(daemon, containing: "trying MQTT 3.1.1").isEmpty, "forced 5 must not fall back:\n\(daemon.log())")
        let said = logLines(daemon, containing: "MQTT 5").filter { $0.contains(address(nats.port)) }
        XCTAssertFalse(said.isEmpty, "the log does not say the broker refused MQTT 5:\n\(daemon.log())")
        let healthz = try admin.get("/healthz")
        XCTAssertEqual(healthz.status, 503, healthz.body)
        XCTAssertTrue(healthz.body.contains("MQTT 5"), "health does not say why: \(healthz.body)")
        print("MultiBrokerTests: forced 5 on nats-server: \(said.last ?? "-")\n  /healthz: \(healthz.body)")
    }

    // MARK: heartbeat

    func testHeartbeatRepublishesTheStateNotRetained() throws {
        let broker = try MosquittoBroker()
        try broker.start()
        let daemon = try DaemonUnderTest(brokerPort: broker.port, settings: ["mqtt.heartbeat": "2"])
        defer { daemon.stopAndRemoveState() }
        // Retain As Published: the retained birth arrives with its flag, a heartbeat without.
        let watch = try TestClient()
        try watch.connect(port: broker.port)
        try watch.subscribe(daemon.topics.state, retainAsPublished: true)
        try daemon.start()
        let birth = try watch.waitFor(daemon.topics.state, timeout: 20) { json($0)["state"] as? String == "online" }
        XCTAssertTrue(birth.retain, "the birth is retained")
        Thread.sleep(forTimeInterval: 5.5)
        let beats = watch.messages(on: daemon.topics.state).filter { !$0.retain && $0.receivedAt > birth.receivedAt }
        XCTAssertTrue(beats.allSatisfy { json($0)["state"] as? String == "online" }, beats.map(\.text).description)
        XCTAssertGreaterThanOrEqual(beats.count, 2, "heartbeats in 5.5 s at mqtt.heartbeat 2")
        XCTAssertLessThanOrEqual(beats.count, 3, "heartbeats in 5.5 s at mqtt.heartbeat 2")
        let times = [birth.receivedAt] + beats.map(\.receivedAt)
        let gaps = zip(times, times.dropFirst()).map { (earlier, later) in later - earlier }
        print("MultiBrokerTests: heartbeat gaps \(gaps)")
        // Wide enough for a loaded CI machine, narrow enough to tell 2 s from 1 s or 4 s.
        for gap in gaps { XCTAssert(gap > .milliseconds(1200) && gap < .milliseconds(3500), "heartbeat gap \(gap)") }
        let retainedAgain = watch.messages(on: daemon.topics.state).filter(\.retain).count
        XCTAssertEqual(retainedAgain, 1, "only the birth is retained")
    }

    // MARK: retained requests

    /// MQTT 3.1.1 has no "do not send retained" subscription option: the retained request reaches
    /// the daemon at subscribe time and is ignored with a warning.
    func testRetainedRequestsOverMQTT311() throws { try retainedRequests(protocol: "3.1.1") }

    /// MQTT 5: the daemon subscribes with "send retained: never", so the broker keeps it to itself.
    func testRetainedRequestsOverMQTT5() throws { try retainedRequests(protocol: "5") }

    /// A retained request there before a new session subscribes is not acted on; requests the broker
    /// queued for the session while the daemon was away (mosquitto forwards them with retain 0, a
    /// retained one included) are answered once each, and the resumed session subscribes nothing.
    private func retainedRequests(protocol version: String) throws {
        let broker = try MosquittoBroker()
        try broker.start()
        let daemon = try DaemonUnderTest(brokerPort: broker.port, settings: ["mqtt.protocol": version])
        defer { daemon.stopAndRemoveState() }
        let healthTopic = daemon.requestTopic("health")
        let client = try watcher(port: broker.port, daemon)
        func answers(_ transaction: String) -> Int {
            client.messages(on: daemon.responseTopic("health")).filter { json($0)["transaction"] as? String == transaction }.count
        }
        func request(_ transaction: String, retain: Bool) throws {
            try client.publishAndWait(topic: healthTopic, payload: "{\"transaction\":\"\(transaction)\"}", retain: retain)
        }
        let warning = "mqtt: ignoring a retained message on \(healthTopic)"

        // New session: a retained request is there before the daemon subscribes.
        try request("retained-before", retain: true)
        defer { try? client.publishAndWait(topic: healthTopic, payload: "", retain: true) }
        try daemon.start()
        try waitForOnline(client, daemon)
        let clientID = try XCTUnwrap(try health(client, daemon)["client_id"] as? String)  // the intake has caught up
        Thread.sleep(forTimeInterval: 0.5)
        XCTAssertEqual(answers("retained-before"), 0, "a subscribe-time retained request was acted on")
        XCTAssertEqual(logLines(daemon, containing: warning).count, version == "5" ? 0 : 1, daemon.log())
        try client.publishAndWait(topic: healthTopic, payload: "", retain: true)  // cleared

        // Away: the broker queues for the daemon's session.
        daemon.process.terminate()
        XCTAssertEqual(daemon.process.waitForExit(timeout: 15), 0, daemon.log())
        let offset = broker.logText.count
        XCTAssertGreaterThan(broker.subscribes(of: clientID), 0, "the broker log shows no SUBSCRIBE of the new session")
        let warningsBefore = logLines(daemon, containing: "mqtt: ignoring a retained message").count
        try request("queued-plain", retain: false)
        try request("queued-retained", retain: true)

        let firstRun = daemon.log().count
        try daemon.start()
        var connected: String?
        _ = waitUntil(timeout: 20) {
            connected = daemon.log().dropFirst(firstRun).split(separator: "\n").first { $0.contains("mqtt: connected to") }.map(String.init)
            return connected != nil
        }
        XCTAssertEqual(connected?.contains("as \(clientID) (MQTT \(version)"), true, daemon.log())
        XCTAssertEqual(connected?.contains("session resumed"), true, daemon.log())
        XCTAssertTrue(waitUntil(timeout: 10) { answers("queued-plain") >= 1 && answers("queued-retained") >= 1 },
                      "queued requests unanswered:\n\(daemon.log())")
        _ = try health(client, daemon)
        Thread.sleep(forTimeInterval: 1)
        XCTAssertEqual(answers("queued-plain"), 1)
        XCTAssertEqual(answers("queued-retained"), 1)
        XCTAssertEqual(broker.subscribes(of: clientID, after: offset), 0,
                       "the daemon subscribed again on a resumed session:\n\(broker.logText.dropFirst(offset))")
        XCTAssertEqual(logLines(daemon, containing: "mqtt: ignoring a retained message").count, warningsBefore, daemon.log())
    }
}
