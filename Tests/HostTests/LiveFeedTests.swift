import Foundation
import Logging
import XCTest

@testable import SpeakerbridgeHost

/// The status page's live feed without a daemon: the spool hands it every committed message in
/// journal order, each stream gets them in a bounded queue (and is cut off past it), the last
/// announcements' events are kept for a page that opens later, and the event and request texts.
final class LiveFeedTests: XCTestCase {
    private let topics = Topics(base: "sb")

    private func event(_ id: String?, _ state: String) -> OutboundMessage {
        AnnouncementEvent(id: id, state: AnnouncementEvent.State(rawValue: state)!, speakers: ["Kitchen"]).message(topics)
    }

    private func message(_ n: Int) -> OutboundMessage {
        OutboundMessage(topic: "sb/Kitchen/state", payload: Array("{\"n\":\(n)}".utf8), retain: true)
    }

    private func states(_ messages: [OutboundMessage]) -> [String] {
        messages.compactMap { (try? JSONValue.parse($0.payload)).map { "\($0["id"]?.stringValue ?? "-"):\($0["state"]?.stringValue ?? "-")" } }
    }

    // MARK: the spool feeds it

    func testTheSpoolHandsOnEveryCommittedMessageInJournalOrder() async throws {
        let dir = NSTemporaryDirectory() + "livefeed-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let spool = try Spool(directory: dir, durability: .process, maxOutbound: 100, dedupWindow: 3600, logger: Logger(label: "test"))
        let feed = LiveFeed(topics: topics)
        spool.observeOutbound { feed.published($0) }
        let (_, subscription) = feed.subscribe()

        try spool.publish([message(1), message(2)])
        let seq = try XCTUnwrap(try spool.recordRequest(key: "speak:a", topic: "sb/speak", payload: [], responseTopic: nil, correlationData: nil))
        try spool.complete(seq, publishing: [event("a", "done")])
        try spool.complete(seq, publishing: [event("a", "failed")])  // no longer pending: nothing recorded, nothing seen
        let seq2 = try XCTUnwrap(try spool.recordRequest(key: "speak:b", topic: "sb/speak", payload: [], responseTopic: nil, correlationData: nil))
        try spool.quarantine(seq2, publishing: [event("b", "failed")])
        try spool.complete(seq2, publishing: [])

        var seen: [OutboundMessage] = []
        while subscription.backlog > 0 {
            if case .messages(let batch) = await subscription.next() { seen += batch }
        }
        XCTAssertEqual(seen.map(\.topic), ["sb/Kitchen/state", "sb/Kitchen/state", topics.announcementEvents, topics.announcementEvents])
        XCTAssertEqual(states(Array(seen.suffix(2))), ["a:done", "b:failed"])
        XCTAssertEqual(feed.announcementHistory.count, 2)
    }

    // MARK: subscribers

    func testASubscriberGetsMessagesInOrderAndAWaitingOneIsWokenByAMessageAKeepaliveOrTheEnd() async {
        let feed = LiveFeed(topics: topics)
        let (history, subscription) = feed.subscribe()
        XCTAssertEqual(history, [])
        feed.published([message(1), message(2)])
        feed.published([message(3)])
        guard case .messages(let first) = await subscription.next() else { return XCTFail("no messages") }
        XCTAssertEqual(first, [message(1), message(2), message(3)])

        async let woken = subscription.next()
        try? await Task.sleep(for: .milliseconds(50))
        feed.published([message(4)])
        let wokenValue = await woken
        XCTAssertEqual(wokenValue, .messages([message(4)]))

        subscription.keepalive()
        let keepalive = await subscription.next()
        XCTAssertEqual(keepalive, .keepalive)

        async let ended = subscription.next()
        try? await Task.sleep(for: .milliseconds(50))
        feed.unsubscribe(subscription)
        let endedValue = await ended
        XCTAssertEqual(endedValue, .ended(cutOff: false))
        XCTAssertEqual(feed.subscriberCount, 0)
        feed.published([message(5)])
        let after = await subscription.next()
        XCTAssertEqual(after, .ended(cutOff: false), "an ended subscription stays ended")
    }

    func testASubscriberThatFallsBehindIsCutOffAndFreedWhileOthersGoOn() async {
        let feed = LiveFeed(topics: topics, maxBehind: 1_000)
        let (_, slow) = feed.subscribe()
        let (_, fast) = feed.subscribe()
        var received = 0
        for n in 0..<1_500 {
            feed.published([message(n)])
            // The fast one keeps up: it takes what is there every 50 messages.
            if n % 50 == 49 {
                while fast.backlog > 0 {
                    if case .messages(let batch) = await fast.next() { received += batch.count }
                }
            }
        }
        XCTAssertEqual(received, 1_500)
        XCTAssertEqual(feed.subscriberCount, 1, "the slow one is forgotten")
        XCTAssertEqual(feed.cutOffTotal, 1)
        XCTAssertEqual(slow.backlog, 0, "its queue is freed at once")
        let slowNext = await slow.next()
        XCTAssertEqual(slowNext, .ended(cutOff: true))
    }

    func testBytesBoundCutsOffToo() async {
        let feed = LiveFeed(topics: topics, maxBehind: 1_000, maxBehindBytes: 10_000)
        let (_, subscription) = feed.subscribe()
        for _ in 0..<12 { feed.published([OutboundMessage(topic: "sb/x", payload: [UInt8](repeating: 0x41, count: 1_000))]) }
        let next = await subscription.next()
        XCTAssertEqual(next, .ended(cutOff: true))
    }

    func testCancellingTheWaitingTaskEndsTheSubscription() async {
        let feed = LiveFeed(topics: topics)
        let (_, subscription) = feed.subscribe()
        let task = Task { await subscription.next() }
        try? await Task.sleep(for: .milliseconds(50))
        task.cancel()
        let value = await task.value
        XCTAssertEqual(value, .ended(cutOff: false))
    }

    // MARK: announcement history

    func testTheHistoryKeepsEveryEventOfTheLastAnnouncementsGroupedOldestFirst() {
        let feed = LiveFeed(topics: topics, maxAnnouncements: 3)
        feed.published([event("a", "queued"), event("b", "queued"), message(1)])
        feed.published([event("a", "playing"), event("a", "done"), event("b", "failed")])
        XCTAssertEqual(states(feed.announcementHistory), ["a:queued", "a:playing", "a:done", "b:queued", "b:failed"])

        feed.published([event("c", "queued"), event(nil, "failed"), event("d", "queued")])
        XCTAssertEqual(states(feed.announcementHistory), ["c:queued", "-:failed", "d:queued"],
                       "past 3 announcements the oldest go with all their events; an event without an id stands alone")
        let (history, _) = feed.subscribe()
        XCTAssertEqual(history, feed.announcementHistory)
    }

    func testOneIdRepeatedWithoutEndKeepsABoundedNumberOfEvents() {
        var history = AnnouncementHistory(capacity: 200)
        for _ in 0..<500 { history.record(event("same", "failed")) }
        XCTAssertEqual(history.count, 1)
        XCTAssertEqual(history.replay.count, AnnouncementHistory.maxEventsPerAnnouncement)
    }

    // MARK: the event text

    private func text(_ message: OutboundMessage) -> String {
        var out: [UInt8] = []
        ServerSentEvent.append(message, to: &out)
        return String(decoding: out, as: UTF8.self)
    }

    /// What a browser's EventSource hands to `onmessage`: the `data:` lines of one event joined by "\n".
    private func data(_ eventText: String) throws -> [String: Any] {
        XCTAssertTrue(eventText.hasSuffix("\n\n"))
        let lines = eventText.dropLast(2).components(separatedBy: "\n")
        XCTAssertFalse(lines.contains(""), "a blank line inside would end the event early")
        XCTAssertTrue(lines.allSatisfy { $0.hasPrefix("data: ") }, eventText)
        let joined = lines.map { String($0.dropFirst(6)) }.joined(separator: "\n")
        return try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(joined.utf8)) as? [String: Any])
    }

    func testAnEventCarriesTopicPayloadAndRetainWithTheJSONPayloadAsIsAndOthersAsStrings() throws {
        XCTAssertEqual(text(OutboundMessage(topic: "sb/bridge/state", payload: Array(#"{"state":"online"}"#.utf8), retain: true)),
                       "data: {\"topic\":\"sb/bridge/state\",\"payload\":{\"state\":\"online\"},\"retain\":true}\n\n")
        XCTAssertEqual(text(OutboundMessage(topic: "sb/Kitchen/availability", payload: Array("online".utf8), retain: true)),
                       "data: {\"topic\":\"sb/Kitchen/availability\",\"payload\":\"online\",\"retain\":true}\n\n")
        let pretty = try data(text(OutboundMessage(topic: "sb/x", payload: Array("{\r\n  \"a\": [1,\n\n 2],\n \"big\": 12345678901234567890\n}\n".utf8))))
        XCTAssertEqual(pretty["topic"] as? String, "sb/x")
        XCTAssertEqual((pretty["payload"] as? [String: Any])?["a"] as? [Int], [1, 2])
        XCTAssertEqual(pretty["retain"] as? Bool, false)
        let odd = try data(text(OutboundMessage(topic: "sb/\"quoted\"\nline", payload: [0x6F, 0x0A, 0x0A, 0xFF, 0x22])))
        XCTAssertEqual(odd["topic"] as? String, "sb/\"quoted\"\nline")
        XCTAssertEqual(odd["payload"] as? String, "o\n\n\u{FFFD}\"")
        XCTAssertEqual(try data(text(OutboundMessage(topic: "sb/y", payload: [])))["payload"] as? String, "")
        XCTAssertEqual(try data(text(OutboundMessage(topic: "sb/z", payload: Array("42".utf8))))["payload"] as? Int, 42)
    }

    // MARK: the request body

    private func problem(_ body: String) -> String? {
        do { _ = try PageRequest.parse(Array(body.utf8), topics: topics); return nil } catch { return error.message }
    }

    func testARequestBodyBecomesTheMessageAnMQTTClientWouldHaveSent() throws {
        let health = try PageRequest.parse(Array(#"{"topic":"sb/bridge/request/health","payload":{"transaction":"t1"}}"#.utf8), topics: topics)
        XCTAssertEqual(health, PageRequest(topic: "sb/bridge/request/health", payload: Array(#"{"transaction":"t1"}"#.utf8)))
        let text = try PageRequest.parse(Array(#"{"payload":"Dinner is ready","topic":"sb/Kitchen/speak"}"#.utf8), topics: topics)
        XCTAssertEqual(text, PageRequest(topic: "sb/Kitchen/speak", payload: Array("Dinner is ready".utf8)))
        let volume = try PageRequest.parse(Array(#"{"topic":"sb/Kitchen/set","payload":{"command":"volume","level":30}}"#.utf8), topics: topics)
        XCTAssertEqual(volume.topic, "sb/Kitchen/set")
        XCTAssertEqual(try JSONValue.parse(volume.payload), ["command": "volume", "level": 30])
    }

    func testHostileOrWrongBodiesAreRefusedWithWhatIsWrong() {
        XCTAssertEqual(problem("  "), #"the body is empty; send {"topic":"sb/bridge/request/health","payload":{"transaction":"1"}}"#)
        XCTAssertTrue(problem("hello")?.hasPrefix("the body is not valid JSON") == true, problem("hello") ?? "")
        XCTAssertTrue(problem("[1,2]")?.hasPrefix("the body must be a JSON object, got an array") == true)
        XCTAssertTrue(problem(#"{"payload":{}}"#)?.hasPrefix("topic is missing") == true)
        XCTAssertEqual(problem(#"{"topic":5,"payload":{}}"#), "topic must be a string, got a number")
        XCTAssertEqual(problem(#"{"topic":"other/speak","payload":{}}"#),
                       #""other/speak" is not a request topic of this bridge; use sb/bridge/request/<name>, sb/speak, sb/<speaker>/speak or sb/<speaker>/set"#)
        XCTAssertTrue(problem(#"{"topic":"sb/bridge/state","payload":{}}"#)?.contains("is not a request topic") == true)
        XCTAssertTrue(problem(#"{"topic":"sb/bridge/request/#","payload":{}}"#)?.contains("wildcard") == true)
        XCTAssertTrue(problem(#"{"topic":"sb/speak"}"#)?.hasPrefix("payload is missing") == true)
        XCTAssertEqual(problem(#"{"topic":"sb/speak","payload":[1]}"#), "payload must be a JSON object or a string, got an array")
        XCTAssertEqual(problem(#"{"topic":"sb/speak","payload":{},"retain":true}"#), "unknown field 'retain'; the body has only topic and payload")
        let deep = #"{"topic":"sb/speak","payload":{"a":"# + String(repeating: "[", count: 300) + String(repeating: "]", count: 300) + "}}"
        XCTAssertTrue(problem(deep)?.hasPrefix("the body nests more than 64 levels deep") == true, problem(deep) ?? "")
        // Brackets inside strings are not nesting.
        XCTAssertNil(problem(#"{"topic":"sb/speak","payload":{"text":"# + "\"" + String(repeating: "[{", count: 200) + "\\\"\"}}"))
    }
}
