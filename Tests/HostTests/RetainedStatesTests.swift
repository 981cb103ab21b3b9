@testable import SpeakerbridgeHost
import XCTest

final class RetainedStatesTests: XCTestCase {
    func message(_ topic: String, _ text: String, retain: Bool = true) -> OutboundMessage {
        OutboundMessage(topic: topic, payload: Array(text.utf8), retain: retain)
    }

    func testKeepsTheLatestRetainedValuePerTopicAndForgetsCleared() {
        let states = RetainedStates()
        states.remember(message("sb/a/availability", "offline"))
        states.remember(message("sb/b/state", "{}"))
        states.remember(message("sb/a/availability", "online"))
        states.remember(message("sb/event", "not state", retain: false))
        XCTAssertEqual(states.all.map(\.topic), ["sb/a/availability", "sb/b/state"])
        XCTAssertEqual(states.all.first?.payload, Array("online".utf8))
        states.remember(message("sb/b/state", ""))
        XCTAssertEqual(states.all.map(\.topic), ["sb/a/availability"])
    }

    func testTheBoundRefusesNewTopicsOnceAndStillUpdatesKnownOnes() {
        let states = RetainedStates(maxTopics: 2)
        XCTAssertFalse(states.remember(message("t/1", "a")))
        XCTAssertFalse(states.remember(message("t/2", "a")))
        XCTAssertTrue(states.remember(message("t/3", "a")), "the first refusal is reported")
        XCTAssertFalse(states.remember(message("t/4", "a")), "later ones are not")
        states.remember(message("t/1", "b"))
        XCTAssertEqual(states.all.map(\.topic), ["t/1", "t/2"])
        XCTAssertEqual(states.all.first?.payload, Array("b".utf8))
    }
}
