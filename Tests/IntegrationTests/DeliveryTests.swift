import Foundation
import LabKit
import XCTest

/// Nothing acknowledged is lost, nothing is processed twice: broker crashes, daemon crashes, junk.
final class DeliveryTests: XCTestCase {
    func assertEachProcessedExactlyOnce(_ ids: [String], _ watch: TestClient, _ daemon: DaemonUnderTest,
                                        file: StaticString = #filePath, line: UInt = #line) {
        let complete = waitUntil(timeout: 60) { eventsByID(watch, daemon).count >= ids.count }
        let events = eventsByID(watch, daemon)
        let missing = ids.filter { events[$0] == nil }
        let twice = ids.filter { (events[$0]?.count ?? 0) > 1 }
        XCTAssertTrue(complete && missing.isEmpty, "lost \(missing.count): \(missing.prefix(10))\n\(daemon.log().suffix(3000))", file: file, line: line)
        XCTAssertTrue(twice.isEmpty, "processed more than once: \(twice.prefix(10)) \(twice.first.flatMap { events[$0] } ?? [])", file: file, line: line)
        XCTAssertEqual(Set(events.keys).subtracting(ids), [], "events for ids nobody sent", file: file, line: line)
    }

    func testBrokerKilledThreeTimesDuring1000Requests() throws {
        // persistEveryChange: a broker killed with -9 keeps what it acknowledged (see LabKit).
        let broker = try MosquittoBroker(persistence: true, persistEveryChange: true)
        try broker.start()
        let daemon = try DaemonUnderTest(brokerPort: broker.port)
        let watch = try watcher(port: broker.port, [daemon.topics.state, daemon.topics.events], persistent: true)
        try daemon.start()
        try waitForOnline(watch, daemon)
        Thread.sleep(forTimeInterval: 2.5)  // the broker's autosave has the daemon's session
        let publisher = try TestClient(cleanSession: false, maxInflight: 20)
        try publisher.connect(port: broker.port)

        let ids = (0..<1000).map { "b\($0)" }
        var restarts = 0
        try publisher.publishSpeakRequests(ids, on: daemon.topics.speak, perSecond: 150) { i in
            guard i > 0, i % 250 == 0 else { return }
            // mosquitto acknowledges a message before it has persisted or forwarded it, so a
            // kill -9 of the broker with a message in that window loses it in the broker itself,
            // whatever its clients do. A short pause before each kill keeps that broker-side window
            // empty; everything the daemon does (requests queued for it while away, its own events
            // queued while the broker is down, resubscribing) is still exercised.
            try publisher.waitForAcks(timeout: 30)
            Thread.sleep(forTimeInterval: 0.3)
            broker.kill9()
            let killed = ContinuousClock.now
            try broker.restart()
            try waitForOnline(watch, daemon, after: killed, timeout: 30)
            restarts += 1
        }
        XCTAssertEqual(restarts, 3)
        assertEachProcessedExactlyOnce(ids, watch, daemon)
        XCTAssertEqual(daemon.count("mqtt: connected to"), 4, "one connect and three reconnects")
        XCTAssertFalse(daemon.log().contains("TWIN DETECTED"), "a restarting broker is not a twin")
    }

    func testDaemonKilledMidwayLosesNothingAndDoublesNothing() throws {
        let broker = try MosquittoBroker()
        try broker.start()
        let daemon = try DaemonUnderTest(brokerPort: broker.port)
        let watch = try watcher(port: broker.port, [daemon.topics.state, daemon.topics.events], persistent: true)
        try daemon.start()
        try waitForOnline(watch, daemon)
        let publisher = try TestClient(cleanSession: false, maxInflight: 20)
        try publisher.connect(port: broker.port)

        let ids = (0..<1000).map { "d\($0)" }
        var second: DaemonUnderTest?
        try publisher.publishSpeakRequests(ids, on: daemon.topics.speak, perSecond: 400) { i in
            guard i == 400 else { return }
            daemon.process.kill9()
            _ = daemon.process.waitForExit(timeout: 5)
            let restarted = try daemon.sibling(brokerPort: broker.port)
            try restarted.start()
            second = restarted
        }
        let restarted = try XCTUnwrap(second)
        try restarted.process.waitForLog(containing: "mqtt: connected to", timeout: 20)
        assertEachProcessedExactlyOnce(ids, watch, restarted)
        XCTAssertTrue(restarted.log().contains("session resumed"), restarted.log())
    }

    func testTenThousandMalformedPayloadsAreEachAnsweredAndTheDaemonStaysUp() throws {
        let broker = try MosquittoBroker()
        try broker.start()
        let daemon = try DaemonUnderTest(brokerPort: broker.port)
        let watch = try watcher(port: broker.port, [daemon.topics.state, daemon.topics.events, "\(daemon.base)/bridge/response/#"])
        try daemon.start()
        try waitForOnline(watch, daemon)
        let publisher = try TestClient(maxInflight: 50)
        try publisher.connect(port: broker.port)

        var rng = SystemRandomNumberGenerator()
        let shapes: [() -> [UInt8]] = [
            // "{", noise, and a raw control byte, which no JSON document may contain.
            { [0x7B] + (0..<Int.random(in: 1...60, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) } + [0x01] },
            { Array("[1,2,3]".utf8) },                                                  // JSON, not an object
            { [0xC3, 0x28, 0xFF] + Array("abc".utf8) },                                 // invalid UTF-8
            { Array(#"{"text": 5"#.utf8) },                                             // unfinished
            { Array(#"{"transaction":"t","nope":"#.utf8) },                             // truncated, names a transaction
        ]
        let topics = ["\(daemon.base)/bridge/request/health", "\(daemon.base)/bridge/request/no-such-request",
                      daemon.topics.speak, "\(daemon.base)/kitchen/speak"]
        let n = 10_000
        for i in 0..<n {
            try publisher.publish(topic: topics[i % topics.count], payload: shapes[(i / topics.count) % shapes.count](), qos: 1)
            if i % 500 == 499 { try publisher.waitForAcks(timeout: 60) }
        }
        try publisher.waitForAcks(timeout: 60)
        func answers() -> [ReceivedMessage] {
            watch.messages(on: "\(daemon.base)/bridge/response/#") + watch.messages(on: daemon.topics.events)
        }
        XCTAssertTrue(waitUntil(timeout: 90) { answers().count >= n }, "answered \(answers().count) of \(n)")
        let all = answers()
        XCTAssertEqual(all.count, n)
        let notErrors = all.filter {
            let j = json($0)
            return !(j["status"] as? String == "error" || j["state"] as? String == "failed")
        }
        XCTAssertEqual(notErrors.count, 0, "every answer is an error: \(notErrors.prefix(3).map(\.text))")
        XCTAssertTrue(all.allSatisfy { json($0)["error"] as? String != nil || json($0)["reason"] as? String != nil },
                      "every error says why")
        XCTAssertTrue(daemon.process.isRunning)
        let health = try DaemonProcess.run(arguments: ["health", "--broker", "127.0.0.1:\(broker.port)", "--set", "base_topic=\(daemon.base)"])
        XCTAssertEqual(health.status, 0, health.output)
    }
}
