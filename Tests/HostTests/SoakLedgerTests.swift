import SpeakerbridgeHost
import XCTest

/// The soak's accounting: what counts as lost, duplicated, or legitimately undelivered.
final class SoakLedgerTests: XCTestCase {
    private func event(_ id: String?, _ state: String, at: String = "2026-01-01T00:00:00.000Z", reason: String? = nil) -> [UInt8] {
        var o: [String: JSONValue] = ["id": .optional(id), "state": .string(state), "speakers": ["log-a"], "at": .string(at)]
        if let reason { o["reason"] = .string(reason) }
        return Array(JSONValue.object(o).serialized().utf8)
    }

    private let online = Array(#"{"state":"online"}"#.utf8)
    private let offline = Array(#"{"state":"offline","reason":"connection lost"}"#.utf8)

    /// A ledger connected to the broker with the daemon online (a live `online`).
    private func onlineLedger() -> SoakLedger {
        var ledger = SoakLedger(qos0Grace: 2)
        ledger.connection(up: true, at: 0)
        ledger.bridgeState(online, retained: false, at: 0.1)
        ledger.firstConnectionSettled()
        return ledger
    }

    func testEverythingFinishedOnceIsAPass() {
        var ledger = onlineLedger()
        ledger.published(seq: 0, id: "a", qos: 1, at: 1)
        ledger.acknowledged(seq: 0)
        ledger.published(seq: 1, id: nil, qos: 0, at: 1.1)
        ledger.published(seq: 2, id: "c", qos: 0, at: 1.2)
        ledger.event(event("a", "queued"), at: 1.2)
        ledger.event(event("a", "done"), at: 1.5)
        ledger.event(event(nil, "done"), at: 1.6)
        ledger.event(event("c", "failed", reason: "speaker log-a went away"), at: 1.7)
        let r = ledger.report()
        XCTAssertEqual(r.sent, 3)
        XCTAssertEqual(r.accepted, 3)
        XCTAssertEqual(r.done, 2)
        XCTAssertEqual(r.failed, 1)
        XCTAssertEqual(r.failedByReason, ["speaker log-a went away": 1])
        XCTAssertEqual(r.lost, 0)
        XCTAssertEqual(r.duplicated, 0)
        XCTAssertEqual(r.latencySamples, 2)
        XCTAssertEqual(r.latencyP50 ?? 0, 0.5, accuracy: 1e-9)
        XCTAssertTrue(r.passed, r.text)
    }

    func testAcknowledgedWithoutFinalEventIsLostByID() {
        var ledger = onlineLedger()
        ledger.published(seq: 0, id: "kept", qos: 1, at: 1)
        ledger.acknowledged(seq: 0)
        ledger.published(seq: 1, id: "gone", qos: 1, at: 1)
        ledger.acknowledged(seq: 1)
        ledger.event(event("kept", "done"), at: 2)
        let r = ledger.report()
        XCTAssertEqual(r.lost, 1)
        XCTAssertEqual(r.lostIDs, ["gone"])
        XCTAssertFalse(r.passed)
        XCTAssertTrue(r.verdict.contains("1 lost"), r.verdict)
        XCTAssertTrue(r.text.contains("gone"), r.text)
    }

    func testUnacknowledgedQoS1IsNotCountedAsLost() {
        var ledger = onlineLedger()
        ledger.published(seq: 0, id: "never-acked", qos: 1, at: 1)
        ledger.published(seq: 1, id: "ok", qos: 1, at: 1)
        ledger.acknowledged(seq: 1)
        ledger.event(event("ok", "done"), at: 2)
        let r = ledger.report()
        XCTAssertEqual(r.unacknowledged, 1)
        XCTAssertEqual(r.lost, 0)
        XCTAssertTrue(r.passed, r.text)
    }

    func testAQoS1PublicationIsAwaitedUntilItsAcknowledgementAndThenUntilItsFinalEvent() {
        // Sent while the soak's own connection was down: not yet accepted, but the drain must not end
        // before its PUBACK, or it ends just before the announcement becomes one to wait for.
        var ledger = onlineLedger()
        ledger.published(seq: 0, id: "late", qos: 1, at: 1)
        XCTAssertEqual(ledger.awaitingAcknowledgement, 1)
        XCTAssertEqual(ledger.unfinishedIDs, 0)
        ledger.acknowledged(seq: 0)
        XCTAssertEqual(ledger.awaitingAcknowledgement, 0)
        XCTAssertEqual(ledger.unfinishedIDs, 1)
        ledger.event(event("late", "done"), at: 2)
        XCTAssertEqual(ledger.unfinishedIDs, 0)
        XCTAssertTrue(ledger.report().passed)
    }

    func testTwoDifferentFinalEventsForOneIDAreADuplicateButARedeliveredCopyIsNot() {
        var ledger = onlineLedger()
        ledger.published(seq: 0, id: "x", qos: 1, at: 1)
        ledger.acknowledged(seq: 0)
        ledger.published(seq: 1, id: "y", qos: 1, at: 1)
        ledger.acknowledged(seq: 1)
        let first = event("x", "done", at: "2026-01-01T00:00:01.000Z")
        ledger.event(first, at: 2)
        ledger.event(first, at: 2.1)  // the broker delivered the same event again: one announcement
        ledger.event(event("y", "done"), at: 2)
        XCTAssertEqual(ledger.report().duplicated, 0)
        ledger.event(event("x", "done", at: "2026-01-01T00:00:05.000Z"), at: 6)  // spoken a second time
        let r = ledger.report()
        XCTAssertEqual(r.duplicated, 1)
        XCTAssertEqual(r.done, 3)
        XCTAssertFalse(r.passed)
    }

    func testQoS0WhileTheDaemonIsOfflineIsNotLost() {
        var ledger = onlineLedger()
        ledger.bridgeState(offline, retained: false, at: 5)
        ledger.published(seq: 0, id: "q0-offline", qos: 0, at: 6)
        ledger.published(seq: 1, id: nil, qos: 0, at: 6.1)
        ledger.bridgeState(online, retained: false, at: 8)
        ledger.published(seq: 2, id: "q0-online", qos: 0, at: 9)
        let r = ledger.report()
        XCTAssertEqual(r.qos0NotDelivered, 2)
        XCTAssertEqual(r.lost, 1, "the one published while the daemon was back online is lost")
        XCTAssertEqual(r.lostIDs, ["q0-online"])
        XCTAssertEqual(r.onlineEvents, 2)
    }

    func testQoS0JustBeforeTheDaemonWentAwayIsNotLost() {
        // The Will arrives a moment after the kill; a QoS 0 message published in that moment may
        // never have reached the daemon.
        var ledger = onlineLedger()
        ledger.published(seq: 0, id: "just-before", qos: 0, at: 10)
        ledger.published(seq: 1, id: "long-before", qos: 0, at: 5)
        ledger.bridgeState(offline, retained: false, at: 10.3)
        let r = ledger.report()
        XCTAssertEqual(r.qos0NotDelivered, 1)
        XCTAssertEqual(r.lostIDs, ["long-before"])
    }

    func testOurOwnDisconnectMakesTheDaemonUnknownUntilALiveOnline() {
        var ledger = onlineLedger()
        ledger.connection(up: false, at: 10)
        ledger.connection(up: true, at: 11)
        ledger.bridgeState(online, retained: true, at: 11.01)  // stale: may predate a crash
        XCTAssertFalse(ledger.daemonOnline)
        ledger.published(seq: 0, id: nil, qos: 0, at: 11.5)
        ledger.bridgeState(online, retained: false, at: 12)
        XCTAssertTrue(ledger.daemonOnline)
        XCTAssertEqual(ledger.report().qos0NotDelivered, 1)
        XCTAssertEqual(ledger.report().lost, 0)
    }

    func testWithoutIDsOnlyTotalsCount() {
        var ledger = onlineLedger()
        for seq in 0..<4 {
            ledger.published(seq: seq, id: nil, qos: 1, at: 1)
            ledger.acknowledged(seq: seq)
        }
        ledger.event(event(nil, "done", at: "2026-01-01T00:00:01.000Z"), at: 2)
        ledger.event(event(nil, "done", at: "2026-01-01T00:00:01.000Z"), at: 2)  // a redelivered copy
        ledger.event(event(nil, "done", at: "2026-01-01T00:00:02.000Z"), at: 3)
        XCTAssertEqual(ledger.unfinishedIdless, 2)
        XCTAssertEqual(ledger.report().lost, 2)
        for t in 3..<6 { ledger.event(event(nil, "done", at: "2026-01-01T00:00:0\(t).000Z"), at: Double(t)) }
        let r = ledger.report()
        XCTAssertEqual(r.lost, 0)
        XCTAssertEqual(r.duplicated, 1, "five distinct final events for four announcements")
    }

    func testEventsOfOtherClientsAreIgnored() {
        var ledger = onlineLedger()
        ledger.published(seq: 0, id: "mine", qos: 1, at: 1)
        ledger.acknowledged(seq: 0)
        ledger.event(event("mine", "done"), at: 2)
        ledger.event(event("cli-1234", "done"), at: 2)
        let r = ledger.report()
        XCTAssertEqual(r.foreignEvents, 1)
        XCTAssertEqual(r.done, 1)
        XCTAssertTrue(r.passed)
    }

    func testNothingAcceptedIsNoPass() {
        var ledger = SoakLedger()
        ledger.skipped()
        let r = ledger.report()
        XCTAssertEqual(r.notSent, 1)
        XCTAssertFalse(r.passed)
        XCTAssertTrue(r.verdict.contains("no announcement reached the daemon"))
    }

    func testHealthTallyAddsUpOverDaemonProcesses() {
        var tally = SoakHealthTally()
        tally.health(["uptime_s": 5, "reconnects": 1, "disconnects": ["MOSQ_ERR_CONN_LOST": 1]])
        tally.health(["uptime_s": 9, "reconnects": 2, "disconnects": ["MOSQ_ERR_CONN_LOST": 2]])
        // kill -9, a new process: its counters start again from zero.
        tally.health(["uptime_s": 1, "reconnects": 0, "disconnects": [:]])
        tally.health(["uptime_s": 6, "reconnects": 1, "disconnects": ["MOSQ_ERR_CONN_LOST": 1, "MOSQ_ERR_KEEPALIVE": 1]])
        XCTAssertEqual(tally.processes, 2)
        XCTAssertEqual(tally.reconnects, 3)
        XCTAssertEqual(tally.disconnects, ["MOSQ_ERR_CONN_LOST": 3, "MOSQ_ERR_KEEPALIVE": 1])
    }

    func testReportJSONCarriesTheVerdict() {
        var ledger = onlineLedger()
        ledger.published(seq: 0, id: "a", qos: 1, at: 1)
        ledger.acknowledged(seq: 0)
        var r = ledger.report()
        r.disconnects = ["MOSQ_ERR_CONN_LOST": 2]
        let json = r.json
        XCTAssertEqual(json["passed"], .bool(false))
        XCTAssertEqual(json["lost"], .number(1))
        XCTAssertEqual(json["lost_ids"], ["a"])
        XCTAssertEqual(json["disconnects"]?["MOSQ_ERR_CONN_LOST"], .number(2))
        XCTAssertTrue(r.text.contains("MOSQ_ERR_CONN_LOST (rc 7): 2"), r.text)
    }
}
