import Foundation
import LabKit
import XCTest

/// A request that crashes the daemon is journalled before its PUBACK, so it would be replayed at
/// every start and kill the daemon again, forever. The journal counts the unclean exits during
/// which a request was being processed and quarantines it at `journal.max_attempts` (2).
final class QuarantineTests: XCTestCase {
    func testAnAnnouncementThatSegfaultsTheDaemonIsQuarantinedOnTheThirdStart() throws {
        var armed = ""
        // The crash runs through the Swift runtime's backtracer, which can take seconds on a busy
        // machine while the daemon's other threads go on: with the suite's 2 s call timeout the
        // host would answer the hung call first (failed, not responding), and nothing would be left
        // to quarantine. Inline, in both passes of the suite: a plugin host process would take the
        // crash in the daemon's place (IsolationTests), and what is tested here is the daemon's.
        let lab = try PluginDaemon.speech(settings: ["plugins.call_timeout": "30", "plugins.isolation": "inline"], speakers: []) { dir, scratch in
            armed = scratch + "/armed"
            FileManager.default.createFile(atPath: armed, contents: Data())
            try PluginBuild.fixture("crash_speaker", to: dir + "/crash-speaker.so", ["ARMED_FILE=\"\(armed)\""])
        }
        let poison = #"{"id":"poison","text":"This one crashes the driver.","speakers":["Bomb"]}"#
        try lab.client.publishAndWait(topic: "\(lab.base)/speak", payload: poison)

        // Start 1 and start 2 (as systemd would restart it): the driver segfaults each time.
        for start in 1...2 {
            guard waitUntil(timeout: 60, { !lab.daemon.process.isRunning }) else {
                return XCTFail("start \(start): the driver's crash did not end the daemon; log:\n\(lab.daemon.log().suffix(3000))")
            }
            XCTAssertTrue(lab.finals(id: "poison").isEmpty, "start \(start): not answered yet")
            try lab.daemon.start()
        }

        // Start 3: not run again, answered as quarantined, and the daemon stays up.
        let final = try lab.waitForFinal(id: "poison", timeout: 60)
        XCTAssertEqual(final["state"] as? String, "failed")
        XCTAssertEqual(final["reason"] as? String, "quarantined: the daemon stopped 2 times while processing it")
        XCTAssertTrue(lab.daemon.process.isRunning)
        XCTAssertTrue(lab.daemon.log().contains("kept as a dead letter"), "the quarantine is logged")
        let journal = try XCTUnwrap(try lab.health()["journal"] as? [String: Any])
        XCTAssertEqual(journal["quarantined"] as? Int, 1, "\(journal)")

        // Nothing else is lost: the next announcement plays.
        try lab.announce(["id": "next", "text": "The daemon is fine.", "speakers": ["Calm"]])
        XCTAssertEqual(try lab.waitForFinal(id: "next")["state"] as? String, "done")

        // The dead letter is kept and inspectable, over MQTT and from the command line.
        let listed = try XCTUnwrap((try lab.request("journal"))["data"] as? [String: Any])
        let letters = try XCTUnwrap(listed["dead_letters"] as? [[String: Any]])
        XCTAssertEqual(letters.count, 1)
        XCTAssertEqual(letters.first?["id"] as? String, "poison")
        XCTAssertEqual(letters.first?["unclean_exits"] as? Int, 2)
        XCTAssertTrue((letters.first?["payload"] as? String ?? "").contains("crashes the driver"))
        let cli = ["--broker", "127.0.0.1:\(lab.broker.port)", "--set", "base_topic=\(lab.base)"]
        let bin = try DaemonProcess.binaryPath()
        let printed = try Shell.runChecked([bin, "journal", "list"] + cli)
        XCTAssertTrue(printed.contains("id poison"), printed)
        XCTAssertTrue(printed.contains("2 unclean exits"), printed)

        // Unknown ids get a precise error.
        let wrong = try lab.request("journal", ["action": "drop", "id": "nope"])
        XCTAssertEqual(wrong["status"] as? String, "error")
        XCTAssertTrue((wrong["error"] as? String ?? "").contains("no dead letter 'nope'"), "\(wrong)")

        // With the driver fixed, a retry plays it; the journal is empty again.
        try FileManager.default.removeItem(atPath: armed)
        let retried = try Shell.runChecked([bin, "journal", "retry", "poison"] + cli)
        XCTAssertTrue(retried.contains("retried"), retried)
        _ = try lab.client.waitFor(lab.eventsTopic, timeout: 30) { json($0)["id"] as? String == "poison" && json($0)["state"] as? String == "done" }
        let after = try XCTUnwrap((try lab.request("journal"))["data"] as? [String: Any])
        XCTAssertEqual((after["dead_letters"] as? [Any])?.count, 0)
        XCTAssertTrue(lab.daemon.process.isRunning)
    }

    func testACleanStopDoesNotCountAgainstAQueuedAnnouncement() throws {
        // A clean restart while an announcement waits behind a long one: it is not quarantined.
        let lab = try PluginDaemon.speech(settings: ["journal.max_attempts": "1"])
        let long = String(repeating: "This sentence keeps the kitchen speaker busy for a while. ", count: 2)
        try lab.announce(["id": "long", "text": long, "speakers": ["Kitchen"]])
        try lab.announce(["id": "waiting", "text": "I was waiting.", "speakers": ["Kitchen"]])
        try lab.client.waitForAcks()
        _ = try lab.client.waitFor(lab.eventsTopic, timeout: 30) { json($0)["id"] as? String == "waiting" && json($0)["state"] as? String == "queued" }
        lab.daemon.process.terminate()
        XCTAssertEqual(lab.daemon.process.waitForExit(timeout: 30), 0)
        try lab.daemon.start()
        XCTAssertEqual(try lab.waitForFinal(id: "waiting", timeout: 90)["state"] as? String, "done")
        XCTAssertEqual(try lab.waitForFinal(id: "long", timeout: 90)["state"] as? String, "done")
    }
}
