import Foundation
import LabKit
import XCTest

/// Hot reload while commands stream in: nothing lost, nothing doubled, the broker never notices.
final class ReloadUnderLoadTests: XCTestCase {
    func testTwoThousandCommandsWhileThePluginIsReplacedTenTimes() throws {
        let id = "org.speakerbridge.example.log-speaker"
        var builds: [String] = []
        let lab = try PluginDaemon(settings: ["plugins.watch_interval": "0.1"]) { dir, scratch in
            for answer in ["a", "b"] {
                let out = scratch + "/build-\(answer).so"
                try PluginBuild.logSpeaker(to: out, [#"LOG_SPEAKER_ANSWER="\#(answer)""#])
                builds.append(out)
            }
            try PluginBuild.install(builds[0], as: dir + "/log-speaker.so")
            try writeJSON(["log": scratch + "/log.txt"], to: dir + "/log-speaker.json")
        }
        let topic = "\(lab.base)/bridge/request/plugin/\(id)/echo"
        let total = 2000
        let start = ContinuousClock.now
        var replaced = 0
        for i in 0..<total {
            try lab.client.publish(topic: topic, payload: #"{"text":"n\#(i)","transaction":"c\#(i)"}"#, qos: 1)
            // Every 200 commands (about a second) a new build lands in the folder.
            if i % 200 == 100, replaced < 10 {
                replaced += 1
                try PluginBuild.install(builds[replaced % 2], as: lab.plugins.path + "/log-speaker.so")
            }
            let due = start + .milliseconds((i + 1) * 5)
            if due > .now { Thread.sleep(forTimeInterval: Double((due - .now).components.attoseconds) / 1e18) }
        }
        try lab.client.waitForAcks(timeout: 60)
        XCTAssertEqual(replaced, 10)
        let responses = "\(lab.base)/bridge/response/plugin/\(id)/echo"
        XCTAssertTrue(waitUntil(timeout: 60) { lab.client.messages(on: responses).count >= total },
                      "answered \(lab.client.messages(on: responses).count) of \(total)")

        var perTransaction: [String: Int] = [:]
        var letterOfGeneration: [Int: Set<String>] = [:]
        var failures: [String] = []
        for m in lab.client.messages(on: responses) {
            let j = json(m)
            perTransaction[j["transaction"] as? String ?? "?", default: 0] += 1
            guard j["status"] as? String == "ok", let g = j["generation"] as? Int,
                  let letter = (j["data"] as? [String: Any])?["answer"] as? String else { failures.append(m.text); continue }
            letterOfGeneration[g, default: []].insert(letter)
        }
        XCTAssertEqual(failures, [], "every command succeeded")
        XCTAssertEqual(perTransaction.count, total, "every command answered")
        XCTAssertEqual(perTransaction.values.filter { $0 != 1 }.count, 0, "each exactly once")
        XCTAssertTrue(letterOfGeneration.values.allSatisfy { $0.count == 1 }, "each answer comes from one generation: \(letterOfGeneration)")
        XCTAssertGreaterThanOrEqual(letterOfGeneration.count, 6, "answers came from many generations: \(letterOfGeneration.keys.sorted())")

        // The last build is in place, every reload happened, state (the command count) survived them all.
        XCTAssertTrue(waitUntil(timeout: 10) {
            ((try? lab.info())?["loaded"] as? [[String: Any]])?.first?["generation"] as? Int ?? 0 >= 11
        }, "generation after 10 reloads: \(String(describing: try? lab.info()))")
        let count = try lab.request("plugin/\(id)/count")
        XCTAssertEqual((count["data"] as? [String: Any])?["commands"] as? Int, total, "\(count)")
        let health = try lab.request("health")
        XCTAssertEqual((health["data"] as? [String: Any])?["reconnects"] as? Int, 0, "the broker connection never dropped")
        XCTAssertEqual(lab.daemon.count("mqtt: connected to"), 1)
        XCTAssertEqual(lab.daemon.count("plugins: reloaded"), 10, lab.daemon.log())
    }
}
