import Foundation
import LabKit
import XCTest

/// What the journal deduplicates, with the publisher Home Assistant users have: `mosquitto_pub`.
/// Rule: an explicit `id`/`transaction` is the idempotency key; without one only a broker
/// redelivery (QoS 1/2, same packet id and bytes) is recognised; QoS 0 is never deduplicated.
final class DeduplicationTests: XCTestCase {
    func pub(_ lab: PluginDaemon, _ topic: String, _ payload: String, qos: Int) throws {
        try Shell.runChecked(["mosquitto_pub", "-h", "127.0.0.1", "-p", String(lab.broker.port), "-q", String(qos),
                              "-t", topic, "-m", payload])
    }

    func testADoorbellRungThriceAtQoS0IsAnnouncedThrice() throws {
        let lab = try PluginDaemon.speech()
        // Plain text, no id, QoS 0: Home Assistant's mqtt.publish default.
        for _ in 0..<3 { try pub(lab, "\(lab.base)/speak", "Someone is at the door", qos: 0) }
        XCTAssertTrue(waitUntil(timeout: 30) { lab.finals().count >= 3 }, "finals: \(lab.finals())")
        XCTAssertEqual(lab.finals().map { $0["state"] as? String }, ["done", "done", "done"])
        // And at QoS 1 (each publish is a new packet id): three as well.
        lab.client.clearMessages()
        for _ in 0..<3 { try pub(lab, "\(lab.base)/speak", "Someone is at the door", qos: 1) }
        XCTAssertTrue(waitUntil(timeout: 30) { lab.finals().count >= 3 }, "finals: \(lab.finals())")
        XCTAssertEqual(lab.finals().count, 3)
        let journal = try XCTUnwrap(try lab.health()["journal"] as? [String: Any])
        XCTAssertEqual(journal["duplicates_total"] as? Int, 0, "\(journal)")
    }

    func testAnIDIsSpokenOnceAtAnyQoS() throws {
        let lab = try PluginDaemon.speech()
        for qos in [0, 1, 0, 1] {
            try pub(lab, "\(lab.base)/speak", #"{"id":"door-1","text":"Someone is at the door"}"#, qos: qos)
        }
        XCTAssertEqual(try lab.waitForFinal(id: "door-1")["state"] as? String, "done")
        // A later, different id still plays: only the repeats were dropped, and they were counted.
        try pub(lab, "\(lab.base)/speak", #"{"id":"door-2","text":"Someone is at the door"}"#, qos: 0)
        XCTAssertEqual(try lab.waitForFinal(id: "door-2")["state"] as? String, "done")
        XCTAssertEqual(lab.finals(id: "door-1").count, 1)
        let journal = try XCTUnwrap(try lab.health()["journal"] as? [String: Any])
        XCTAssertEqual(journal["duplicates_total"] as? Int, 3, "\(journal)")
    }

    func testEmptyHealthRequestsAtQoS0AreEachAnswered() throws {
        let (broker, daemon, watch) = try runningDaemon(watching: ["+/bridge/response/health"])
        _ = broker
        for _ in 0..<3 {
            try Shell.runChecked(["mosquitto_pub", "-h", "127.0.0.1", "-p", String(broker.port), "-q", "0",
                                  "-t", "\(daemon.base)/bridge/request/health", "-n"])
        }
        let answers = try watch.waitForCount("\(daemon.base)/bridge/response/health", count: 3, timeout: 20)
        XCTAssertEqual(answers.count, 3)
        XCTAssertTrue(answers.allSatisfy { json($0)["status"] as? String == "ok" })
        // The same transaction twice is answered once.
        for _ in 0..<2 {
            try Shell.runChecked(["mosquitto_pub", "-h", "127.0.0.1", "-p", String(broker.port), "-q", "1",
                                  "-t", "\(daemon.base)/bridge/request/health", "-m", #"{"transaction":"once"}"#])
        }
        _ = try watch.waitFor("\(daemon.base)/bridge/response/health", timeout: 20) { json($0)["transaction"] as? String == "once" }
        Thread.sleep(forTimeInterval: 1)  // give a wrongly repeated answer the time to show up
        XCTAssertEqual(watch.messages(on: "\(daemon.base)/bridge/response/health").filter { json($0)["transaction"] as? String == "once" }.count, 1)
    }
}
