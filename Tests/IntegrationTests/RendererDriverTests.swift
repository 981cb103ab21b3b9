import Foundation
import LabKit
import XCTest

/// The Sonos/UPnP driver on real UPnP speakers: gmediarender in network namespaces, found by SSDP
/// on the lab's LAN only. The daemon and its broker run in the lab too; the test talks to the
/// broker with mosquitto_sub/mosquitto_pub inside the daemon's namespace. Nothing leaves the lab.
final class RendererDriverTests: XCTestCase {
    /// A daemon with the TTS plugin and the driver in the lab's first namespace, and a recorder
    /// of everything it publishes.
    final class DriverLab {
        let speakers: RendererLab
        let host: LabHost
        let broker: MosquittoBroker
        let daemon: DaemonUnderTest
        let watch: BackgroundCommand
        let plugins: TempDirectory

        init(renderers: [String], helpers: Int = 1) throws {
            speakers = try RendererLab(renderers: renderers, helpers: helpers)
            host = speakers.helpers[0]
            broker = try MosquittoBroker(bindAddress: host.address, netns: host.name)
            try broker.start()
            plugins = try TempDirectory(prefix: "sbplugins")
            try PluginBuild.ttsPlugin(to: plugins.file("tts-espeak.so"))
            try writeJSON(["cache_dir": plugins.file("tts-cache")], to: plugins.file("tts-espeak.json"))
            try PluginBuild.sonosDriver(to: plugins.file("sonos.so"))
            try writeJSON(["discovery": true, "interface": "lab0", "search_interval": 3, "probe_interval": 1,
                           "soap_timeout": 2, "announce_margin": 1], to: plugins.file("sonos.json"))
            daemon = try DaemonUnderTest(brokerHost: host.address, brokerPort: broker.port,
                                         settings: ["plugins.path": plugins.path, "network.interface": "lab0"],
                                         netns: host.name)
            watch = try speakers.lab.background(host: host, ["mosquitto_sub", "-h", host.address, "-p", "\(broker.port)",
                                                             "-v", "-t", "\(daemon.base)/#"])
            try daemon.start()
        }

        deinit {
            daemon.process.terminate()
            _ = daemon.process.waitForExit(timeout: 10)
            watch.stop()
            broker.stop()
            speakers.destroy()
        }

        var base: String { daemon.base }

        /// (topic, payload) lines mosquitto_sub printed so far.
        func messages() -> [(topic: String, payload: String)] {
            watch.output().split(separator: "\n").compactMap { line -> (topic: String, payload: String)? in
                let parts = line.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: false)
                guard parts.count == 2 else { return nil }
                return (String(parts[0]), String(parts[1]))
            }
        }

        func waitFor(_ topic: String, timeout: Double = 20, after count: Int = 0,
                     _ match: @escaping ([String: Any], String) -> Bool = { _, _ in true }) -> [String: Any]? {
            var found: [String: Any]?
            _ = waitUntil(timeout: timeout, interval: 0.1) {
                for m in self.messages().dropFirst(count) where m.topic == "\(self.base)/\(topic)" {
                    let object = (try? JSONSerialization.jsonObject(with: Data(m.payload.utf8))) as? [String: Any] ?? [:]
                    if match(object, m.payload) { found = object; return true }
                }
                return false
            }
            return found
        }

        func publish(_ topic: String, _ body: [String: Any]) throws {
            let payload = String(decoding: try JSONSerialization.data(withJSONObject: body), as: UTF8.self)
            try Shell.runChecked(["ip", "netns", "exec", host.name, "mosquitto_pub", "-h", host.address, "-p", "\(broker.port)",
                                  "-q", "1", "-t", "\(base)/\(topic)", "-m", payload])
        }

        func say(_ id: String, _ text: String, to speaker: String) throws -> [String: Any]? {
            let mark = messages().count
            try publish("speak", ["id": id, "text": text, "speakers": [speaker]])
            return waitFor("bridge/event/announcement", timeout: 40, after: mark) { j, _ in
                j["id"] as? String == id && ["done", "failed"].contains(j["state"] as? String ?? "")
            }
        }

        func online(_ speaker: String, _ value: String = "online", after count: Int = 0, timeout: Double = 20) -> Bool {
            waitFor("\(speaker)/availability", timeout: timeout, after: count) { _, text in text == value } != nil
        }
    }

    private func requireLab() throws {
        if let reason = RendererLab.unavailableReason {
            print("SKIPPED renderer driver test: \(reason)")
            throw XCTSkip("renderer driver: \(reason)")
        }
    }

    func testBothSpeakersAreDiscoveredAndTheWordsArriveInTheRecording() throws {
        try requireLab()
        let lab = try DriverLab(renderers: ["Kitchen", "Office"])
        XCTAssertTrue(lab.online("kitchen"), "kitchen online by SSDP:\n\(lab.daemon.log())")
        XCTAssertTrue(lab.online("office"), "office online by SSDP")
        let kitchen = lab.speakers.renderers[0]
        let text = "The washing machine has finished. Please empty it."
        let start = kitchen.recording.mark()
        let final = try lab.say("w1", text, to: "kitchen")
        XCTAssertEqual(final?["state"] as? String, "done", "\(final ?? [:])\n\(lab.daemon.log())")
        let words = try kitchen.recording.stats(from: start)
        let reference = lab.plugins.file("reference.wav")
        try Shell.runChecked(["espeak-ng", "-w", reference, text])
        let own = try AudioStats.of(file: reference)
        print("kitchen recorded \(words); espeak-ng alone \(own)")
        XCTAssertEqual(words.audibleSeconds, own.audibleSeconds, accuracy: 0.4, "all the words arrived")
        XCTAssertGreaterThan(words.rmsAmplitude, 0.02, "not silence")
        let office = lab.speakers.renderers[1].recording
        let officeSilent = try office.byteCount == 0 || office.stats().isSilent
        XCTAssertTrue(officeSilent, "the office heard nothing")
    }

    func testAStreamThatWasPlayingBeforePlaysAgainAfterTheAnnouncement() throws {
        try requireLab()
        let lab = try DriverLab(renderers: ["Kitchen"])
        let kitchen = lab.speakers.renderers[0]
        let server = try LabStreamServer(host: lab.host)
        let stream = try server.addTone("radio.wav", seconds: 120)
        try server.start()
        defer { server.stop() }
        XCTAssertTrue(lab.online("kitchen"))
        try lab.speakers.lab.play(stream, on: kitchen, from: lab.host)
        XCTAssertTrue(kitchen.recording.waitForAudio(seconds: 2, timeout: 8), "the stream plays")
        let before = Date()
        let final = try lab.say("r1", "Someone is at the front door.", to: "kitchen")
        XCTAssertEqual(final?["state"] as? String, "done", "\(final ?? [:])\n\(lab.daemon.log())")
        let after = kitchen.recording.mark()
        XCTAssertTrue(kitchen.recording.waitForAudio(seconds: 2, after: after, timeout: 8), "stream audio again")
        XCTAssertEqual(try lab.speakers.lab.transportState(of: kitchen, from: lab.host), "PLAYING")
        XCTAssertFalse(server.gets(of: "radio.wav").filter { $0.time > before }.isEmpty,
                       "the stream was fetched again: \(server.requests())")
        let tone = try kitchen.recording.stats(from: after)
        XCTAssertEqual(tone.roughFrequency, 440, accuracy: 40, "the tone, not the words: \(tone)")
    }

    func testPlayPauseAndVolumeReachTheStateTopic() throws {
        try requireLab()
        let lab = try DriverLab(renderers: ["Kitchen"])
        let kitchen = lab.speakers.renderers[0]
        let server = try LabStreamServer(host: lab.host)
        let stream = try server.addTone("radio.wav", seconds: 120)
        try server.start()
        defer { server.stop() }
        XCTAssertTrue(lab.online("kitchen"))
        var mark = lab.messages().count
        try lab.publish("kitchen/set", ["command": "setavtransporturi", "uri": stream])
        XCTAssertNotNil(lab.waitFor("kitchen/state", after: mark) { j, _ in j["state"] as? String == "playing" },
                        "playing reaches MQTT:\n\(lab.messages().suffix(10))")
        XCTAssertTrue(kitchen.recording.waitForAudio(seconds: 1, timeout: 8))
        mark = lab.messages().count
        try lab.publish("kitchen/set", ["command": "pause"])
        XCTAssertNotNil(lab.waitFor("kitchen/state", after: mark) { j, _ in j["state"] as? String == "paused" })
        mark = lab.messages().count
        try lab.publish("kitchen/set", ["command": "volume", "level": 23])
        XCTAssertNotNil(lab.waitFor("kitchen/state", after: mark) { j, _ in j["volume"] as? Int == 23 })
        mark = lab.messages().count
        try lab.publish("kitchen/set", ["command": "play"])
        XCTAssertNotNil(lab.waitFor("kitchen/state", after: mark) { j, _ in j["state"] as? String == "playing" })
        // A Sonos-only command on a plain renderer says so.
        mark = lab.messages().count
        try lab.publish("kitchen/set", ["command": "groupvolume", "level": 10])
        let answer = lab.waitFor("kitchen/set/response", after: mark)
        XCTAssertTrue((answer?["error"] as? String ?? "").contains("not supported by this device"), "\(answer ?? [:])")
        // So do the other Sonos-only commands, before anything is sent.
        for command: [String: Any] in [["command": "bass", "level": 2], ["command": "sleep", "minutes": 5],
                                       ["command": "favorite", "name": "Jazz"], ["command": "alarms"],
                                       ["command": "queueadd", "uri": stream], ["command": "nightmode", "on": true]] {
            mark = lab.messages().count
            try lab.publish("kitchen/set", command)
            let refused = lab.waitFor("kitchen/set/response", after: mark)
            XCTAssertTrue((refused?["error"] as? String ?? "").contains("not supported by this device"), "\(command): \(refused ?? [:])")
        }
    }

    func testASpeakerThatDiesMidAnnouncementFailsItAndComesBackOnline() throws {
        try requireLab()
        let lab = try DriverLab(renderers: ["Kitchen", "Office"])
        XCTAssertTrue(lab.online("kitchen"))
        XCTAssertTrue(lab.online("office"))
        let kitchen = lab.speakers.renderers[0]
        let mark = lab.messages().count
        try lab.publish("speak", ["id": "x1", "speakers": ["kitchen"],
                                  "text": "This is a long announcement, and the speaker will lose its power before the end of it."])
        XCTAssertTrue(kitchen.recording.waitForAudio(seconds: 0.5, timeout: 15), "it started")
        kitchen.kill9()
        let final = lab.waitFor("bridge/event/announcement", timeout: 30, after: mark) { j, _ in
            j["id"] as? String == "x1" && ["done", "failed"].contains(j["state"] as? String ?? "")
        }
        XCTAssertEqual(final?["state"] as? String, "failed", "\(final ?? [:])")
        XCTAssertTrue(lab.online("kitchen", "offline", after: mark))
        XCTAssertEqual(try lab.say("x2", "The office is fine.", to: "office")?["state"] as? String, "done")
        let back = lab.messages().count
        try kitchen.start()
        XCTAssertTrue(lab.online("kitchen", after: back, timeout: 30), "online again:\n\(lab.daemon.log())")
        XCTAssertEqual(try lab.say("x3", "The kitchen is back.", to: "kitchen")?["state"] as? String, "done")
    }

    /// A hostile device on the same LAN answers every search with garbage, a 60 KB datagram, bad
    /// LOCATIONs and descriptions built to hurt (billion laughs, an external entity naming
    /// /etc/passwd, 8 MiB, 200,000-deep nesting, truncation, wrong types). The driver refuses all of
    /// it, the daemon's memory stays small, and the real speaker next to it works.
    func testHostileSSDPAndDescriptionsAreRefusedWithoutHarm() throws {
        try requireLab()
        let lab = try DriverLab(renderers: ["Kitchen"], helpers: 2)
        let evil = lab.speakers.helpers[1]
        let script = PluginBuild.root + "/Tests/Fixtures/hostile/hostile_upnp_device.py"
        let device = try lab.speakers.lab.background(host: evil, ["python3", script, evil.address, "8080"])
        defer { device.stop() }
        XCTAssertTrue(lab.online("kitchen"), "the real speaker is found:\n\(lab.daemon.log())")
        // Two search rounds (3 s apart) with every hostile answer fetched.
        XCTAssertTrue(waitUntil(timeout: 20, interval: 0.2) {
            let out = device.output()
            return out.components(separatedBy: "M-SEARCH").count > 2
                && ["laughs", "xxe", "wrong", "big", "deep", "truncated"].allSatisfy { out.contains("GET /\($0).xml") }
        }, "the hostile device was asked and its descriptions fetched:\n\(device.output())")
        let final = try lab.say("h1", "Still here.", to: "kitchen")
        XCTAssertEqual(final?["state"] as? String, "done", "\(final ?? [:])")

        let topics = Set(lab.messages().map(\.topic).filter { $0.hasSuffix("/availability") })
        XCTAssertEqual(topics, ["\(lab.base)/kitchen/availability"], "no hostile device became a speaker")
        let everything = lab.messages().map(\.payload).joined() + lab.daemon.log()
        XCTAssertFalse(everything.contains("root:x:0:0"), "no external entity was ever resolved")
        XCTAssertFalse(everything.contains("lollol"), "no entity was ever expanded")
        let log = lab.daemon.log()
        XCTAssertTrue(log.contains("DOCTYPE"), "the refusals are logged with their reason:\n\(log)")
        let pid = try XCTUnwrap(lab.daemon.process.pid)
        let status = try String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)
        let rssKB = status.split(separator: "\n").first { $0.hasPrefix("VmHWM:") }
            .flatMap { Int($0.split(separator: " ", omittingEmptySubsequences: true)[1]) } ?? 0
        print("daemon peak RSS with the hostile device: \(rssKB / 1024) MB")
        XCTAssertLessThan(rssKB, 200 * 1024, "no memory blow-up (peak RSS \(rssKB / 1024) MB)")
    }
}
