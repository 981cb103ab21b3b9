import XCTest

@testable import SpeakerbridgeHost

final class ReconnectPolicyTests: XCTestCase {
    func testDelaysGrowExponentiallyUpToTheCapAndResetAfterStableConnection() {
        var p = ReconnectPolicy(minDelay: 1, maxDelay: 8, stableAfter: 30)
        var maxima: [Double] = []
        for _ in 0..<6 {
            var worst = 0.0
            for _ in 0..<200 {
                var copy = p
                worst = max(worst, copy.nextDelay())
            }
            maxima.append(worst)
            _ = p.nextDelay()
        }
        // Full jitter: each ceiling doubles (1, 2, 4, 8, 8, 8) and samples stay below it.
        for (i, ceiling) in [1.0, 2, 4, 8, 8, 8].enumerated() {
            XCTAssertLessThanOrEqual(maxima[i], ceiling)
            XCTAssertGreaterThan(maxima[i], ceiling * 0.7, "jitter should use the whole range")
        }
        p.connectionEnded(after: 5)
        XCTAssertEqual(p.failures, 6, "a short connection does not reset")
        p.connectionEnded(after: 31)
        XCTAssertEqual(p.failures, 0)
    }

    func testTwinIsSuspectedAfterRepeatedShortTakeoversOnly() {
        let lost = DisconnectReason(code: 7, name: "MOSQ_ERR_CONN_LOST", explanation: "")
        let keepalive = DisconnectReason(code: 19, name: "MOSQ_ERR_KEEPALIVE", explanation: "")
        var t = TwinDetector(threshold: 3, window: 10)
        XCTAssertFalse(t.connectionEnded(after: 1, reason: lost))
        XCTAssertFalse(t.connectionEnded(after: 2, reason: keepalive), "keepalive loss is not a takeover")
        XCTAssertFalse(t.connectionEnded(after: 1, reason: lost, brokerReachable: false), "a crashed broker is not a twin")
        XCTAssertFalse(t.connectionEnded(after: 1, reason: lost))
        XCTAssertTrue(t.connectionEnded(after: 1, reason: lost))
        XCTAssertTrue(t.suspected)
        XCTAssertFalse(t.connectionEnded(after: 1, reason: lost), "reported once")
        XCTAssertFalse(t.connectionEnded(after: 60, reason: lost))
        XCTAssertFalse(t.suspected, "a stable connection clears it")
    }
}

final class RequestParsingTests: XCTestCase {
    func testTopLevelFieldFindsOnlyTopLevelKeys() {
        func v(_ s: String, _ f: String = "id") -> String? { TopLevelField.value(of: f, in: Array(s.utf8)) }
        XCTAssertEqual(v(#"{"text":"hi","id":"a-1"}"#), "a-1")
        XCTAssertEqual(v(#" { "id" : 42 , "x":1}"#), "42")
        XCTAssertNil(v(#"{"nested":{"id":"inner"},"text":"x"}"#))
        XCTAssertEqual(v(#"{"nested":{"id":"inner","a":[1,{"b":"}"}]},"id":"outer"}"#), "outer")
        XCTAssertEqual(v(#"{"text":"say \"id\":\"no\"","id":"yes"}"#), "yes")
        XCTAssertNil(v("plain text"))
        XCTAssertNil(v(#"{"id":"#))
        XCTAssertNil(v(#"{"id":"x","text":"#), "an unfinished object names nothing")
        XCTAssertNil(v(#"{"id":"x"} trailing"#))
        XCTAssertNil(v(#"{"id":true}"#))
        XCTAssertEqual(v(#"{"transaction":"t9"}"#, "transaction"), "t9")
    }

    func testRequestKeys() {
        let t = Topics(base: "sb")
        func key(_ topic: String, _ payload: String, qos: Int32 = 1, mid: Int32 = 3) -> String? {
            RequestKey.derive(route: t.route(topic), payload: Array(payload.utf8), qos: qos, mid: mid, topic: topic)
        }
        XCTAssertEqual(key("sb/speak", #"{"id":"x","text":"a"}"#), "speak:x")
        XCTAssertEqual(key("sb/speak", #"{"id":"x","text":"a"}"#, qos: 0, mid: 0), "speak:x", "an explicit id is the key at any QoS")
        XCTAssertEqual(key("sb/bridge/request/health", #"{"transaction":"9"}"#), "req:health:9")
        let a = key("sb/speak", "hello", mid: 3)
        let b = key("sb/speak", "hello", mid: 4)
        XCTAssertTrue(a?.hasPrefix("~") == true)
        XCTAssertEqual(a, key("sb/speak", "hello", mid: 3), "a broker redelivery (same packet id and bytes) is recognised")
        XCTAssertNotEqual(a, b, "a new message id is a new request")
        XCTAssertNil(key("sb/speak", "hello", qos: 0, mid: 0), "QoS 0 messages all carry packet id 0: never deduplicated")
        XCTAssertNil(key("sb/bridge/request/health", "", qos: 0, mid: 0))
        let long = String(repeating: "x", count: RequestKey.maxNameBytes + 1)
        XCTAssertNil(key("sb/speak", #"{"id":"\#(long)","text":"a"}"#, qos: 0, mid: 0), "an over-long id is no key (it is refused later)")
        XCTAssertTrue(key("sb/speak", #"{"id":"\#(long)","text":"a"}"#)?.hasPrefix("~") == true)
    }

    func testTopicRoutes() {
        let t = Topics(base: "home/sb")
        XCTAssertEqual(t.route("home/sb/speak"), .speak(speaker: nil))
        XCTAssertEqual(t.route("home/sb/kitchen/speak"), .speak(speaker: "kitchen"))
        XCTAssertEqual(t.route("home/sb/kitchen/set"), .speakerCommand(speaker: "kitchen"))
        XCTAssertEqual(t.route("home/sb/bridge/request/plugins/reload"), .bridgeRequest(name: "plugins/reload"))
        XCTAssertEqual(t.route("home/sb/bridge/speak"), .unknown)
        XCTAssertEqual(t.route("other/speak"), .unknown)
    }

    func testSpeakRequestParsing() throws {
        let plain = try SpeakRequest.parse(Array("  Dinner is ready \n".utf8), speakerFromTopic: "kitchen")
        XCTAssertEqual(plain.text, "Dinner is ready")
        XCTAssertEqual(plain.speakers, ["kitchen"])
        let json = try SpeakRequest.parse(Array(#"{"id":7,"text":"hi","speakers":["a","b"],"volume":40,"priority":"high"}"#.utf8), speakerFromTopic: nil)
        XCTAssertEqual(json.id, "7")
        XCTAssertEqual(json.speakers, ["a", "b"])
        XCTAssertEqual(json.volume, 40)
        XCTAssertEqual(json.priority, .high)

        func reason(_ s: [UInt8]) -> String? {
            do { _ = try SpeakRequest.parse(s, speakerFromTopic: nil); return nil } catch { return error.reason }
        }
        XCTAssertEqual(reason([0xff, 0xfe]), "payload is not valid UTF-8")
        XCTAssertEqual(reason(Array("   ".utf8)), "text is empty: nothing to say")
        XCTAssertTrue(reason(Array(#"{"text":"a","volume":101}"#.utf8))!.contains("volume"))
        XCTAssertTrue(reason(Array(#"{"txt":"a"}"#.utf8))!.contains("unknown field 'txt'"))
        XCTAssertTrue(reason(Array(#"{"text":"a""#.utf8))!.contains("not valid JSON"))
        XCTAssertTrue(reason(Array(String(repeating: "a", count: 100_000).utf8))!.contains("limit is 10000"))
    }
}
