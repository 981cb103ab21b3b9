import Foundation
import Logging
import XCTest

@testable import SpeakerbridgeHost

/// The journal's attempt records: an unclean exit while a request is being processed counts
/// against it; a clean stop, or an attempt that ended (waiting in a queue), does not. Dead letters
/// and counts survive restarts and compaction.
final class QuarantineJournalTests: XCTestCase {
    var dir = ""

    override func setUp() {
        dir = NSTemporaryDirectory() + "journal-\(UUID().uuidString)"
        try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    }

    override func tearDown() { try? FileManager.default.removeItem(atPath: dir) }

    /// A new process opening the journal (the previous one's file descriptor just goes away, as in a crash).
    func start() throws -> Spool {
        try Spool(directory: dir, durability: .process, maxOutbound: 100, dedupWindow: 3600, logger: Logger(label: "test"))
    }

    func record(_ s: Spool, _ key: String?) throws -> UInt64 {
        try XCTUnwrap(try s.recordRequest(key: key, topic: "sb/speak", payload: Array("boom".utf8), responseTopic: nil, correlationData: nil))
    }

    func testUncleanExitsDuringAnAttemptAreCounted() throws {
        var s = try start()
        let seq = try record(s, "speak:poison")
        XCTAssertEqual(s.uncleanExits(of: seq), 0)
        s.beginAttempt(seq)
        s = try start()  // crashed while processing it
        XCTAssertEqual(s.uncleanExits(of: seq), 1)
        s.beginAttempt(seq)
        s = try start()
        XCTAssertEqual(s.uncleanExits(of: seq), 2)
        s = try start()  // a start that did not touch it adds nothing
        XCTAssertEqual(s.uncleanExits(of: seq), 2)
    }

    func testCleanStopsAndEndedAttemptsDoNotCount() throws {
        var s = try start()
        let a = try record(s, "speak:a")
        let b = try record(s, "speak:b")
        s.beginAttempt(a)
        s.beginAttempt(b)
        s.beginAttempt(b)  // two holders (synthesis and a speaker): one attempt
        s.endAttempt(b)
        s.recordCleanStop()
        s = try start()
        XCTAssertEqual(s.uncleanExits(of: a), 0, "a clean stop")
        s.beginAttempt(b)
        s.endAttempt(b)  // waiting in a queue when the crash came
        s = try start()
        XCTAssertEqual(s.uncleanExits(of: b), 0)
    }

    func testACompletionCanBeginTheNextAttemptInTheSameWrite() throws {
        var s = try start()
        let a = try record(s, "speak:a")
        let b = try record(s, "speak:b")
        s.beginAttempt(a)
        XCTAssertTrue(try s.complete(a, publishing: [], beginning: b))
        XCTAssertFalse(try s.complete(a, publishing: [], beginning: b), "a finished request begins nothing")
        s = try start()  // crashed while processing b
        XCTAssertEqual(s.uncleanExits(of: b), 1)
        s.beginAttempt(b)
        XCTAssertFalse(try s.complete(b, publishing: [], beginning: b + 1), "an unknown request is not begun")
        s = try start()
        XCTAssertTrue(s.pendingRequests(after: 0).isEmpty)
    }

    func testDeadLettersSurviveRestartsAndCompactionAndKeepTheirKeyInFlight() throws {
        var s = try start()
        let poison = try record(s, "speak:poison")
        let other = try record(s, "speak:other")
        s.beginAttempt(poison)
        s = try start()
        s.beginAttempt(poison)
        s = try start()
        XCTAssertEqual(s.uncleanExits(of: poison), 2)
        try s.quarantine(poison, publishing: [OutboundMessage(topic: "sb/event", payload: Array("quarantined".utf8))])
        XCTAssertEqual(s.pendingRequests(after: 0).map(\.seq), [other], "the other request is untouched")
        XCTAssertEqual(s.stats.quarantined, 1)
        XCTAssertNil(try s.recordRequest(key: "speak:poison", topic: "sb/speak", payload: [], responseTopic: nil, correlationData: nil),
                     "the same poison sent again is not run again")
        s.compactNow()
        s = try start()
        XCTAssertEqual(s.deadLetters.map(\.request.seq), [poison])
        XCTAssertEqual(s.deadLetters.first?.uncleanExits, 2)
        XCTAssertEqual(s.deadLetters.first?.request.payload, Array("boom".utf8))
        XCTAssertEqual(s.pendingRequests(after: 0).map(\.seq), [other])
        XCTAssertTrue(s.outbound(after: 0, limit: 10).contains { $0.message.payload == Array("quarantined".utf8) })

        // Retry: back in the journal under a new number, attempts from zero.
        let again = try XCTUnwrap(try s.retryDeadLetter(poison))
        XCTAssertGreaterThan(again.seq, other)
        XCTAssertEqual(again.key, "speak:poison")
        XCTAssertTrue(s.deadLetters.isEmpty)
        XCTAssertEqual(s.uncleanExits(of: again.seq), 0)
        s = try start()
        XCTAssertEqual(s.pendingRequests(after: 0).map(\.seq), [other, again.seq])
        XCTAssertTrue(s.deadLetters.isEmpty)
    }

    func testDropForgetsTheLetterButRemembersItsKey() throws {
        var s = try start()
        let seq = try record(s, "speak:x")
        s.beginAttempt(seq)
        s = try start()
        try s.quarantine(seq, publishing: [])
        XCTAssertTrue(try s.dropDeadLetter(seq))
        XCTAssertFalse(try s.dropDeadLetter(seq))
        s = try start()
        XCTAssertTrue(s.deadLetters.isEmpty)
        XCTAssertNil(try s.recordRequest(key: "speak:x", topic: "sb/speak", payload: [], responseTopic: nil, correlationData: nil))
    }

    func testRequestsWithoutAKeyAreNeverDuplicates() throws {
        let s = try start()
        let a = try record(s, nil)
        let b = try record(s, nil)
        XCTAssertNotEqual(a, b)
        try s.complete(a, publishing: [])
        XCTAssertNotNil(try s.recordRequest(key: nil, topic: "sb/speak", payload: Array("boom".utf8), responseTopic: nil, correlationData: nil))
        XCTAssertEqual(s.stats.duplicatesTotal, 0)
    }
}
