import Foundation
import LabKit
import XCTest

/// Text in, speech out: the espeak-ng plugin, the media server, the per-speaker queues, the events.
/// The speakers are log speakers; the test fetches each clip URL as a speaker would.
final class AnnouncementTests: XCTestCase {
    let ttsID = "org.speakerbridge.tts.espeak-ng"

    func speechLab(speakers: [String] = ["Kitchen"], settings: [String: String] = [:], logFile: inout String) throws -> PluginDaemon {
        var log = ""
        let lab = try PluginDaemon(settings: ["media.bind": "127.0.0.1"].merging(settings) { $1 }) { dir, scratch in
            log = scratch + "/speakers.txt"
            try PluginBuild.ttsPlugin(to: dir + "/tts-espeak.so")
            try writeJSON(["cache_dir": scratch + "/tts-cache"], to: dir + "/tts-espeak.json")
            try PluginBuild.logSpeaker(to: dir + "/log-speaker.so")
            try writeJSON(["log": log, "speakers": speakers], to: dir + "/log-speaker.json")
        }
        // The lab's client already listens to <base>/bridge/#, events included.
        logFile = log
        return lab
    }

    func say(_ lab: PluginDaemon, _ body: [String: Any]) throws {
        try lab.client.publish(topic: "\(lab.base)/speak", payload: try JSONSerialization.data(withJSONObject: body).map { $0 }, qos: 1)
    }

    func events(_ lab: PluginDaemon, id: String) -> [[String: Any]] {
        lab.client.messages(on: "\(lab.base)/bridge/event/announcement").map(json).filter { $0["id"] as? String == id }
    }

    @discardableResult
    func waitForFinal(_ lab: PluginDaemon, id: String, timeout: Double = 30) throws -> [String: Any] {
        let m = try lab.client.waitFor("\(lab.base)/bridge/event/announcement", timeout: timeout) {
            let j = json($0)
            return j["id"] as? String == id && ["done", "failed"].contains(j["state"] as? String ?? "")
        }
        return json(m)
    }

    func testTheWordsReachTheSpeakerWithEspeakNgsOwnDuration() throws {
        var log = ""
        let lab = try speechLab(logFile: &log)
        let text = "The washing machine has finished."
        try say(lab, ["id": "w1", "text": text, "speakers": ["Kitchen"], "volume": 35])
        let final = try waitForFinal(lab, id: "w1")
        XCTAssertEqual(final["state"] as? String, "done", "\(final)")
        XCTAssertEqual(events(lab, id: "w1").map { $0["state"] as? String ?? "" }, ["queued", "playing", "done"])

        // Fetch the clip the way a speaker does, and measure it against espeak-ng's own output.
        let line = try XCTUnwrap(lab.log(log).first)
        let parts = line.split(separator: " ").map(String.init)
        XCTAssertEqual(parts[0], "play")
        XCTAssertEqual(parts.last, "35", "the requested volume reaches the speaker")
        let url = parts[2]
        let got = lab.scratch.file("got.wav"), reference = lab.scratch.file("ref.wav")
        try Shell.runChecked(["curl", "-sf", "-o", got, url])
        try Shell.runChecked(["espeak-ng", "-w", reference, text])
        let served = try XCTUnwrap(Double(try Shell.runChecked(["soxi", "-D", got]).trimmingCharacters(in: .whitespacesAndNewlines)))
        let own = try XCTUnwrap(Double(try Shell.runChecked(["soxi", "-D", reference]).trimmingCharacters(in: .whitespacesAndNewlines)))
        XCTAssertEqual(served, own, accuracy: own * 0.05, "served \(served) s, espeak-ng \(own) s")
        XCTAssertEqual(try Shell.runChecked(["soxi", "-b", got]).trimmingCharacters(in: .whitespacesAndNewlines), "16")
    }

    func testTheSamePhraseTwiceIsSynthesisedOnce() throws {
        var log = ""
        let lab = try speechLab(logFile: &log)
        for id in ["c1", "c2"] {
            try say(lab, ["id": id, "text": "Dinner is ready."])
            XCTAssertEqual(try waitForFinal(lab, id: id)["state"] as? String, "done")
        }
        let playing = events(lab, id: "c2").first { $0["state"] as? String == "playing" }
        XCTAssertEqual(playing?["cached"] as? Bool, true)
        let stats = try lab.request("plugin/\(ttsID)/stats")
        XCTAssertEqual((stats["data"] as? [String: Any])?["syntheses"] as? Int, 1, "\(stats)")
        XCTAssertEqual((stats["data"] as? [String: Any])?["cache_hits"] as? Int, 1)
        // The same id again is spoken once (and answered by nobody a second time).
        try say(lab, ["id": "c1", "text": "Dinner is ready."])
        try lab.request("health")  // everything before it has been handled
        XCTAssertEqual(events(lab, id: "c1").filter { $0["state"] as? String == "done" }.count, 1)
        XCTAssertEqual(lab.log(log).count, 2)
    }

    func testBadAnnouncementsFailWithClearReasons() throws {
        var log = ""
        let lab = try speechLab(logFile: &log)
        let cases: [(Any, String)] = [
            (["id": "u1", "text": "hi", "speakers": ["Attic"]], "unknown speaker 'Attic'; known speakers: Kitchen"),
            (["id": "u2", "text": "   "], "text is empty"),
            (["id": "u3", "text": String(repeating: "word ", count: 20_000)], "the limit is 10000"),
        ]
        for (body, reason) in cases {
            let b = body as! [String: Any]
            try say(lab, b)
            let final = try waitForFinal(lab, id: b["id"] as! String)
            XCTAssertEqual(final["state"] as? String, "failed")
            XCTAssertTrue((final["reason"] as? String ?? "").contains(reason), "\(final)")
        }
        try lab.client.publish(topic: "\(lab.base)/speak", payload: [0x7B, 0x22, 0xFF, 0xFE], qos: 1)
        let utf8 = try lab.client.waitFor("\(lab.base)/bridge/event/announcement") { json($0)["reason"] as? String == "payload is not valid UTF-8" }
        XCTAssertEqual(json(utf8)["state"] as? String, "failed")
        XCTAssertEqual(lab.log(log), [], "nothing was played")
        XCTAssertEqual(try lab.request("health")["status"] as? String, "ok")
    }

    func testHundredAnnouncementsOverThreeSpeakersInOrderWithHighPriorityFirst() throws {
        var log = ""
        let lab = try speechLab(speakers: ["One", "Two", "Three"], logFile: &log)
        let speakers = ["One", "Two", "Three"]
        var expected: [String: [String]] = [:]
        for i in 0..<100 {
            let speaker = speakers[i % 3]
            let high = i % 10 == 9
            try say(lab, ["id": "q\(i)", "text": "\(i)", "speakers": [speaker], "priority": high ? "high" : "normal"])
            expected[speaker, default: []].append("q\(i)")
        }
        try lab.client.waitForAcks(timeout: 30)
        XCTAssertTrue(waitUntil(timeout: 120) {
            (0..<100).allSatisfy { i in self.events(lab, id: "q\(i)").contains { $0["state"] as? String == "done" } }
        }, "all done")
        for speaker in speakers {
            // The order in which this speaker started playing.
            let started = lab.client.messages(on: "\(lab.base)/bridge/event/announcement").map(json)
                .filter { $0["state"] as? String == "playing" && $0["speaker"] as? String == speaker }
                .compactMap { $0["id"] as? String }
            let ids = expected[speaker]!
            XCTAssertEqual(Set(started), Set(ids), "\(speaker) played each of its own once")
            XCTAssertEqual(started.count, ids.count)
            let rank = { (id: String) -> Int in Int(id.dropFirst())! }
            // Within each priority, arrival order; and no normal one started while an older
            // high one was still waiting.
            let highs = started.filter { rank($0) % 10 == 9 }, normals = started.filter { rank($0) % 10 != 9 }
            XCTAssertEqual(highs, highs.sorted { rank($0) < rank($1) }, "\(speaker) high in order")
            XCTAssertEqual(normals, normals.sorted { rank($0) < rank($1) }, "\(speaker) normal in order")
            for (position, id) in started.enumerated() where rank(id) % 10 == 9 {
                let overtaken = started[..<position].filter { rank($0) % 10 != 9 && rank($0) > rank(id) }
                XCTAssertLessThanOrEqual(overtaken.count, 1, "\(speaker): high \(id) waited behind newer normal ones \(overtaken)")
            }
        }
    }

    func testPendingAnnouncementsSurviveADaemonRestart() throws {
        var log = ""
        let lab = try speechLab(logFile: &log)
        for i in 0..<6 { try say(lab, ["id": "r\(i)", "text": "Announcement number \(i) of six."]) }
        try lab.client.waitForAcks(timeout: 10)
        _ = try lab.client.waitFor("\(lab.base)/bridge/event/announcement", timeout: 20) { json($0)["state"] as? String == "playing" }
        lab.daemon.process.kill9()
        _ = lab.daemon.process.waitForExit(timeout: 5)
        let restarted = try lab.daemon.sibling(brokerPort: lab.broker.port, settings: [
            "plugins.path": lab.plugins.path, "media.bind": "127.0.0.1",
        ])
        try restarted.start()
        for i in 0..<6 {
            XCTAssertEqual(try waitForFinal(lab, id: "r\(i)", timeout: 60)["state"] as? String, "done", "r\(i)")
        }
        XCTAssertTrue(restarted.log().contains("resuming"), restarted.log())
    }

    func testSayWaitExitsZeroOnDoneAndOneWithTheReason() throws {
        var log = ""
        let lab = try speechLab(logFile: &log)
        let common = ["--broker", "127.0.0.1:\(lab.broker.port)", "--set", "base_topic=\(lab.base)", "--wait", "--timeout", "30"]
        let ok = try DaemonProcess.run(arguments: ["say", "Front door.", "--speaker", "Kitchen"] + common)
        XCTAssertEqual(ok.status, 0, ok.output)
        XCTAssertTrue(ok.output.contains(": done"), ok.output)
        let bad = try DaemonProcess.run(arguments: ["say", "Back door.", "--speaker", "Garage"] + common)
        XCTAssertEqual(bad.status, 1, bad.output)
        XCTAssertTrue(bad.output.contains("unknown speaker 'Garage'"), bad.output)
    }

    func testInterruptCutsTheClipPlaying() throws {
        var log = ""
        let lab = try speechLab(logFile: &log)
        try say(lab, ["id": "long", "text": String(repeating: "This is a long announcement. ", count: 12)])
        _ = try lab.client.waitFor("\(lab.base)/bridge/event/announcement", timeout: 20) {
            json($0)["id"] as? String == "long" && json($0)["state"] as? String == "playing"
        }
        let cut = Date()
        try say(lab, ["id": "urgent", "text": "Smoke alarm.", "interrupt": true])
        let urgent = try waitForFinal(lab, id: "urgent")
        XCTAssertEqual(urgent["state"] as? String, "done")
        XCTAssertLessThan(Date().timeIntervalSince(cut), 15, "did not wait for the long one to finish")
        let long = try waitForFinal(lab, id: "long")
        XCTAssertEqual(long["state"] as? String, "failed")
        XCTAssertTrue((long["reason"] as? String ?? "").lowercased().contains("cancel"), "\(long)")
    }

    func testVoicesRateAndSSML() throws {
        var log = ""
        let lab = try speechLab(logFile: &log)
        let voices = try lab.request("voices")
        let list = try XCTUnwrap(voices["data"] as? [[String: Any]], "\(voices)")
        XCTAssertTrue(list.contains { ($0["language"] as? String ?? "").hasPrefix("en") }, "English is there")
        XCTAssertGreaterThan(list.count, 20)

        func duration(ofPlay index: Int) throws -> Double {
            let url = lab.log(log)[index].split(separator: " ")[2]
            let file = lab.scratch.file("clip\(index).wav")
            try Shell.runChecked(["curl", "-sf", "-o", file, String(url)])
            return try XCTUnwrap(Double(try Shell.runChecked(["soxi", "-D", file]).trimmingCharacters(in: .whitespacesAndNewlines)))
        }
        let text = "Please take the bins out tonight."
        try say(lab, ["id": "slow", "text": text, "rate": 100])
        XCTAssertEqual(try waitForFinal(lab, id: "slow")["state"] as? String, "done")
        try say(lab, ["id": "fast", "text": text, "rate": 300])
        XCTAssertEqual(try waitForFinal(lab, id: "fast")["state"] as? String, "done")
        XCTAssertGreaterThan(try duration(ofPlay: 0), 2 * (try duration(ofPlay: 1)), "rate changes the speech")

        try say(lab, ["id": "ssml", "text": #"<speak>Hello <break time="1500ms"/> world</speak>"#, "ssml": true])
        XCTAssertEqual(try waitForFinal(lab, id: "ssml")["state"] as? String, "done")
        XCTAssertGreaterThan(try duration(ofPlay: 2), 1.5, "the SSML pause is in the clip")
        try say(lab, ["id": "badrate", "text": "x", "rate": 1000])
        XCTAssertTrue((try waitForFinal(lab, id: "badrate")["reason"] as? String ?? "").contains("rate must be"))
    }
}
