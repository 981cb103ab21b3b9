import Foundation
import LabKit
import XCTest

/// A requester's MQTT 5 response topic is used only if it has no wildcard, does not start with `$`,
/// is not a topic the bridge takes requests on, and matches `mqtt.response_topics` (default: under
/// the base topic, or with a level beginning with `response`). Otherwise the answer goes to the
/// default response topic with a `warning`.
final class ResponseTopicTests: XCTestCase {
    /// The answer with this transaction (the watcher sees the request itself too).
    func answered(_ m: ReceivedMessage, _ transaction: String) -> Bool {
        !m.topic.contains("/bridge/request/") && json(m)["transaction"] as? String == transaction
    }

    func testOnlyAllowedResponseTopicsAreAnsweredInto() throws {
        let (broker, daemon, watch) = try runningDaemon(watching: ["#"])
        _ = broker
        let requester = try TestClient()
        try requester.connect(port: broker.port)
        func ask(_ topic: String, _ transaction: String) throws -> ReceivedMessage {
            try requester.publish(topic: "\(daemon.base)/bridge/request/health", payload: #"{"transaction":"\#(transaction)"}"#,
                                  responseTopic: topic, correlationData: Array(transaction.utf8))
            return try watch.waitFor("#", timeout: 20) { self.answered($0, transaction) }
        }
        let allowed = try ask("nodered/response/42", "a1")
        XCTAssertEqual(allowed.topic, "nodered/response/42")
        XCTAssertNil(json(allowed)["warning"])
        let under = try ask("\(daemon.base)/answers/x", "a2")
        XCTAssertEqual(under.topic, "\(daemon.base)/answers/x")

        for (topic, why) in [("$SYS/broker/x", "starts with '$'"), ("a/+/response", "contains a wildcard"),
                             ("othersapp/lights/set", "is neither under"),
                             ("\(daemon.base)/speak", "one of the bridge's own request topics")] {
            let t = "t-\(UUID().uuidString)"
            let answer = try ask(topic, t)
            XCTAssertEqual(answer.topic, "\(daemon.base)/bridge/response/health", "\(topic) was not used")
            XCTAssertEqual(json(answer)["status"] as? String, "ok", "the request itself is still served")
            XCTAssertTrue((json(answer)["warning"] as? String ?? "").contains(why), "\(topic): \(json(answer))")
        }
        XCTAssertTrue(watch.messages(on: "othersapp/#").isEmpty)
        XCTAssertEqual(watch.messages(on: "\(daemon.base)/speak").count, 0, "no answer became a request")
    }

    func testConfiguredFiltersReplaceTheDefault() throws {
        let (broker, daemon, watch) = try runningDaemon(settings: ["mqtt.response_topics": "apps/+/replies/#"], watching: ["#"])
        let requester = try TestClient()
        try requester.connect(port: broker.port)
        try requester.publish(topic: "\(daemon.base)/bridge/request/health", payload: #"{"transaction":"c1"}"#, responseTopic: "apps/hass/replies/1")
        XCTAssertEqual(try watch.waitFor("#", timeout: 20) { self.answered($0, "c1") }.topic, "apps/hass/replies/1")
        try requester.publish(topic: "\(daemon.base)/bridge/request/health", payload: #"{"transaction":"c2"}"#, responseTopic: "nodered/response/1")
        let m = try watch.waitFor("#", timeout: 20) { self.answered($0, "c2") }
        XCTAssertEqual(m.topic, "\(daemon.base)/bridge/response/health")
        XCTAssertTrue((json(m)["warning"] as? String ?? "").contains("matches none of mqtt.response_topics"))
    }
}
