import Foundation
import LabKit
import XCTest

/// Limits checked before anything of a request is kept: payload size (`mqtt.max_payload`, checked in
/// the MQTT callback before the payload is copied), id/transaction length, unfinished requests
/// (`journal.max_pending`) and announcements per speaker (`announcements.max_queue`). Each refusal
/// is an answer with the reason; the requests around it are served.
final class InputLimitTests: XCTestCase {
    func peakRSSKiB(_ pid: Int32) -> Int {
        let status = (try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)) ?? ""
        let line = status.split(separator: "\n").first { $0.hasPrefix("VmHWM:") } ?? ""
        return Int(line.split(separator: " ").dropFirst().first ?? "") ?? 0
    }

    func testOversizedPayloadsAreAnsweredWithTheLimitAndCostNoMemory() throws {
        let lab = try PluginDaemon.speech()
        let pid = try XCTUnwrap(lab.daemon.process.pid)
        // 16 MB announcements: the id comes first so the refusal can name it.
        let filler = String(repeating: "a", count: 16 << 20)
        var size = 0
        for i in 0..<4 {
            let big = #"{"id":"big-\#(i)","text":"\#(filler)"}"#
            size = big.utf8.count
            try lab.client.publish(topic: "\(lab.base)/speak", payload: big)
        }
        try lab.client.waitForAcks(timeout: 60)
        for i in 0..<4 {
            let final = try lab.waitForFinal(id: "big-\(i)", timeout: 30)
            XCTAssertEqual(final["state"] as? String, "failed")
            XCTAssertEqual(final["reason"] as? String, "the message is \(size) bytes; mqtt.max_payload allows at most 262144 bytes")
        }
        // A bridge request over the limit: an error answer with its transaction.
        let request = #"{"transaction":"huge","pad":"\#(String(repeating: "b", count: 300_000))"}"#
        try lab.client.publish(topic: "\(lab.base)/bridge/request/health", payload: request)
        let answer = json(try lab.client.waitFor("\(lab.base)/bridge/response/health", timeout: 20) { json($0)["transaction"] as? String == "huge" })
        XCTAssertEqual(answer["status"] as? String, "error")
        XCTAssertTrue((answer["error"] as? String ?? "").contains("mqtt.max_payload allows at most 262144 bytes"), "\(answer)")

        // Nothing was journalled, memory stayed bounded (16 MB arrive in libmosquitto's buffer once;
        // before the limit each one cost ~500 MB), and the next announcement plays.
        let journal = try XCTUnwrap(try lab.health()["journal"] as? [String: Any])
        XCTAssertEqual(journal["recorded_total"] as? Int, 1, "only the health request itself: \(journal)")
        let peak = peakRSSKiB(pid)
        XCTAssertLessThan(peak, 160 * 1024, "peak RSS \(peak) KiB")
        try lab.announce(["id": "small", "text": "Small is fine."])
        XCTAssertEqual(try lab.waitForFinal(id: "small")["state"] as? String, "done")
        XCTAssertEqual(lab.daemon.process.pid, pid)
    }

    func testOverLongIDsAndTransactionsAreRefused() throws {
        let lab = try PluginDaemon.speech()
        let long = String(repeating: "i", count: 201)
        try lab.announce(["id": long, "text": "Too long an id."])
        let refused = json(try lab.client.waitFor(lab.eventsTopic, timeout: 20) { json($0)["state"] as? String == "failed" })
        XCTAssertEqual(refused["reason"] as? String, "id is 201 bytes long; at most 200 bytes are allowed")
        XCTAssertTrue(refused["id"] is NSNull, "an over-long id is not echoed: \(refused)")
        let answer = try lab.request("health", ["pad": long])  // a normal transaction still works
        XCTAssertEqual(answer["status"] as? String, "ok")
        try lab.client.publish(topic: "\(lab.base)/bridge/request/health", payload: #"{"transaction":"\#(long)"}"#)
        let error = json(try lab.client.waitFor("\(lab.base)/bridge/response/health", timeout: 20) { json($0)["status"] as? String == "error" })
        XCTAssertEqual(error["error"] as? String, "transaction is 201 bytes long; at most 200 bytes are allowed")
        let ok = String(repeating: "i", count: 200)
        try lab.announce(["id": ok, "text": "Exactly two hundred."])
        XCTAssertEqual(try lab.waitForFinal(id: ok)["state"] as? String, "done")
    }

    func testAFullJournalRefusesNewRequestsAndKeepsTheAcceptedOnes() throws {
        let lab = try PluginDaemon.speech(settings: ["journal.max_pending": "10", "announcements.max_queue": "1000"])
        // Each clip takes about a second on the log speaker, so the burst piles up in the journal.
        for i in 0..<14 { try lab.announce(["id": "p\(i)", "text": "Number \(i) of the burst."]) }
        try lab.client.waitForAcks()
        for i in 0..<14 { _ = try lab.waitForFinal(id: "p\(i)", timeout: 90) }
        let refused = lab.finals().filter { ($0["reason"] as? String ?? "").contains("journal.max_pending") }
        let done = lab.finals().filter { $0["state"] as? String == "done" }
        XCTAssertFalse(refused.isEmpty, "the bound was reached: \(lab.finals())")
        XCTAssertEqual(refused.first?["reason"] as? String, "the journal holds 10 unfinished requests (journal.max_pending); try again later")
        XCTAssertEqual(refused.count + done.count, 14, "every announcement has one final event: \(lab.finals())")
        XCTAssertGreaterThanOrEqual(done.count, 9, "the accepted ones all played")
        try lab.announce(["id": "later", "text": "Room again."])
        XCTAssertEqual(try lab.waitForFinal(id: "later")["state"] as? String, "done")
    }

    func testASpeakersQueueIsBounded() throws {
        let lab = try PluginDaemon.speech(settings: ["announcements.max_queue": "3"], speakers: ["Kitchen", "Office"])
        let text = "This sentence takes the kitchen speaker a few seconds to say out loud."
        for i in 0..<6 { try lab.announce(["id": "q\(i)", "text": text, "speakers": ["Kitchen"]]) }
        try lab.announce(["id": "office", "text": "The office queue is empty.", "speakers": ["Office"]])
        try lab.client.waitForAcks()
        for i in 0..<6 { _ = try lab.waitForFinal(id: "q\(i)", timeout: 90) }
        XCTAssertEqual(try lab.waitForFinal(id: "office")["state"] as? String, "done", "another speaker is not held up")
        let states = (0..<6).map { lab.finals(id: "q\($0)").first?["state"] as? String }
        XCTAssertEqual(Array(states.prefix(3)), ["done", "done", "done"])
        let refused = (0..<6).compactMap { lab.finals(id: "q\($0)").first }.filter { $0["state"] as? String == "failed" }
        XCTAssertFalse(refused.isEmpty)
        XCTAssertEqual(refused.first?["reason"] as? String, "Kitchen already has 3 announcements queued (announcements.max_queue); try again later")
    }
}
