import Foundation
import LabKit
import XCTest

/// SSML from MQTT is hostile input for libespeak-ng: `<audio src=…>` makes the library run
/// `sox` through the shell on a file name taken from the text, and crash on some files. The real
/// daemon with the real espeak-ng plugin refuses such markup with a reason naming the tag, spawns
/// no process, stays up, and still speaks the allowed SSML and the next plain announcement.
///
/// The daemon runs with a fake `sox` first on its PATH that leaves a mark if it is ever run, so
/// "nothing was spawned" is observed, not assumed.
final class SSMLSafetyTests: XCTestCase {
    static let allowedList = "speak, break, emphasis, prosody, say-as, voice, s, p, sub, mark"

    /// Broker, daemon (TTS plugin + one log speaker), a client on `<base>/bridge/#`, and the fake sox.
    final class Lab {
        let broker: MosquittoBroker
        let state: TempDirectory
        let plugins: TempDirectory
        let scratch: TempDirectory
        let daemon: DaemonProcess
        let client: TestClient
        let base = "sbssml\(UInt32.random(in: 0...UInt32.max))"
        let speakerLog: String
        /// Written by the fake sox, if anything ever runs it.
        let soxRan: String
        let pid: Int32

        init() throws {
            broker = try MosquittoBroker()
            try broker.start()
            state = try TempDirectory(prefix: "sbssml-state")
            plugins = try TempDirectory(prefix: "sbssml-plugins")
            scratch = try TempDirectory(prefix: "sbssml-scratch")
            speakerLog = scratch.file("speakers.txt")
            soxRan = scratch.file("sox-ran")

            let fakeBin = scratch.file("bin")
            try FileManager.default.createDirectory(atPath: fakeBin, withIntermediateDirectories: true)
            try "#!/bin/sh\necho \"sox $*\" >> '\(soxRan)'\nexit 1\n".write(toFile: fakeBin + "/sox", atomically: true, encoding: .utf8)
            chmod(fakeBin + "/sox", 0o755)

            try PluginBuild.ttsPlugin(to: plugins.file("tts-espeak.so"))
            try PluginBuild.logSpeaker(to: plugins.file("log-speaker.so"))
            try writeJSON(["log": speakerLog, "speakers": ["Kitchen"]], to: plugins.file("log-speaker.json"))

            var args = ["run", "--broker", "127.0.0.1:\(broker.port)", "--state-dir", state.path + "/state"]
            let settings = ["base_topic": base, "plugins.path": plugins.path, "plugins.call_timeout": "5",
                            "media.bind": "127.0.0.1", "mqtt.reconnect.min_delay": "0.2", "mqtt.reconnect.max_delay": "2"]
            for (k, v) in settings.sorted(by: { $0.key < $1.key }) { args += ["--set", "\(k)=\(v)"] }
            let path = fakeBin + ":" + (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin")
            daemon = DaemonProcess(arguments: args, environment: ["PATH": path], logPath: state.file("daemon.log"))

            client = try TestClient(maxInflight: 100)
            try client.connect(port: broker.port)
            try client.subscribe("\(base)/bridge/#")
            try daemon.start()
            _ = try client.waitFor("\(base)/bridge/state", timeout: 20) { m in
                !m.retain && json(m)["state"] as? String == "online"
            }
            pid = try XCTUnwrap(daemon.pid)
        }

        deinit {
            if daemon.isRunning {
                daemon.kill9()
                _ = daemon.waitForExit(timeout: 5)
            }
            for dir in [state, plugins, scratch] { dir.remove() }
        }

        func say(_ body: [String: Any]) throws {
            try client.publish(topic: "\(base)/speak", payload: try JSONSerialization.data(withJSONObject: body).map { $0 }, qos: 1)
        }

        /// The announcement's `done` or `failed` event.
        func finalEvent(_ id: String, timeout: Double = 30) throws -> [String: Any] {
            json(try client.waitFor("\(base)/bridge/event/announcement", timeout: timeout) {
                let j = json($0)
                return j["id"] as? String == id && ["done", "failed"].contains(j["state"] as? String ?? "")
            })
        }

        func health() throws -> [String: Any] {
            let transaction = "t-\(UUID().uuidString)"
            try client.publish(topic: "\(base)/bridge/request/health",
                               payload: try JSONSerialization.data(withJSONObject: ["transaction": transaction]).map { $0 }, qos: 1)
            return json(try client.waitFor("\(base)/bridge/response/health", timeout: 15) { json($0)["transaction"] as? String == transaction })
        }

        var plays: [String] {
            ((try? String(contentsOfFile: speakerLog, encoding: .utf8)) ?? "").split(separator: "\n").map(String.init)
        }

        /// The clip of the speaker's `index`th play, fetched as the speaker would, and its length (sox).
        func clipSeconds(play index: Int) throws -> Double {
            let url = String(plays[index].split(separator: " ")[2])
            let file = scratch.file("clip\(index).wav")
            try Shell.runChecked(["curl", "-sf", "-o", file, url])
            return try seconds(of: file)
        }

        /// The daemon is the same process as at the start and answers a request; sox never ran.
        func assertUnharmed(_ context: String, file: StaticString = #filePath, line: UInt = #line) throws {
            XCTAssertTrue(daemon.isRunning, "\(context): the daemon died\n\(daemon.log().suffix(2000))", file: file, line: line)
            XCTAssertEqual(daemon.pid, pid, "\(context): same process", file: file, line: line)
            XCTAssertEqual(try health()["status"] as? String, "ok", "\(context): health answers", file: file, line: line)
            XCTAssertFalse(FileManager.default.fileExists(atPath: soxRan),
                           "\(context): sox was run: \((try? String(contentsOfFile: soxRan, encoding: .utf8)) ?? "")", file: file, line: line)
        }
    }

    static func seconds(of file: String) throws -> Double {
        try XCTUnwrap(Double(try Shell.runChecked(["soxi", "-D", file]).trimmingCharacters(in: .whitespacesAndNewlines)))
    }

    func assertFailed(_ event: [String: Any], naming tag: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(event["state"] as? String, "failed", "\(event)", file: file, line: line)
        let reason = event["reason"] as? String ?? ""
        XCTAssertTrue(reason.contains("speech synthesis failed: SSML tag \(tag) is not allowed (allowed: \(Self.allowedList))"),
                      "reason: \(reason)", file: file, line: line)
    }

    /// (a) A file whose name is a shell command substitution, with content that is not WAV: the
    /// shape that made libespeak-ng run `sox "<name>"` through /bin/sh.
    func testAudioWhoseFileNameIsAShellCommandIsRefusedAndRunsNothing() throws {
        let lab = try Lab()
        let marker = lab.scratch.file("marker")
        let evil = lab.scratch.file("evil/$(touch \(marker))")
        try FileManager.default.createDirectory(atPath: (evil as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try "this is not a WAV file\n".write(toFile: evil, atomically: true, encoding: .utf8)
        let ssml = #"<speak>Before <audio src="\#(evil)"/> after</speak>"#

        // Control: this input is live on this machine. espeak-ng itself (no URI callback), with the
        // same fake sox first on PATH, runs the command in the name and then the fake sox.
        let control = lab.scratch.file("control.wav")
        try Shell.run(["PATH=\(lab.scratch.file("bin")):/usr/bin:/bin", "espeak-ng", "-m", "-w", control, ssml])
        XCTAssertTrue(FileManager.default.fileExists(atPath: marker), "control: espeak-ng ran the command in the file name")
        XCTAssertTrue(FileManager.default.fileExists(atPath: lab.soxRan), "control: espeak-ng ran sox")
        try FileManager.default.removeItem(atPath: marker)
        try FileManager.default.removeItem(atPath: lab.soxRan)

        try lab.say(["id": "shell", "text": ssml, "ssml": true])
        assertFailed(try lab.finalEvent("shell"), naming: "<audio>")
        XCTAssertFalse(FileManager.default.fileExists(atPath: marker), "the command in the file name was not run")
        try lab.assertUnharmed("after <audio> with a command in its name")
        XCTAssertEqual(lab.plays, [], "nothing was played")

        // Nothing else was lost: the next announcement is spoken.
        try lab.say(["id": "next", "text": "The door is locked."])
        XCTAssertEqual(try lab.finalEvent("next")["state"] as? String, "done")
        XCTAssertEqual(lab.plays.count, 1)
        XCTAssertFalse(FileManager.default.fileExists(atPath: marker))
    }

    /// (b) `/etc/passwd` as the audio source crashed libespeak-ng, i.e. the daemon; (c) any tag
    /// outside the allow-list, and markup that could declare or reference something external.
    func testAudioOfEtcPasswdAndOtherMarkupAreRefusedWithTheirNames() throws {
        let lab = try Lab()
        let refused: [(id: String, text: String, tag: String)] = [
            ("passwd", #"<audio src="/etc/passwd"/>"#, "<audio>"),
            ("passwd-speak", #"<speak>Hello <audio src="/etc/passwd"/> world</speak>"#, "<audio>"),
            ("passwd-open", #"<speak><audio src="file:///etc/passwd">alternative</audio></speak>"#, "<audio>"),
            ("foo", "<speak>Hello <foo>world</foo></speak>", "<foo>"),
            ("upper", #"<AUDIO src="/etc/passwd"/>"#, "<AUDIO>"),
            ("phoneme", #"<phoneme alphabet="espeak" ph="h@l'oU">hello</phoneme>"#, "<phoneme>"),
        ]
        for c in refused {
            try lab.say(["id": c.id, "text": c.text, "ssml": true])
            assertFailed(try lab.finalEvent(c.id), naming: c.tag)
            try lab.assertUnharmed(c.id)
        }
        let malformed: [(id: String, text: String, reason: String)] = [
            ("doctype", #"<!DOCTYPE speak [<!ENTITY x SYSTEM "file:///etc/passwd">]><speak>&x;</speak>"#,
             "SSML markup <!DOCTYPE> is not allowed"),
            ("entity", "<speak>&xxe;</speak>", "SSML entity reference &xxe; is not allowed"),
            ("stylesheet", #"<?xml-stylesheet href="http://example.invalid/x.xsl"?><speak>Hi</speak>"#,
             "SSML processing instruction <?xml-stylesheet?> is not allowed"),
            ("comment", #"<!-- > <audio src="/etc/passwd"/> --><speak>Hi</speak>"#, "SSML comments are not allowed"),
            ("cdata", "<speak><![CDATA[<audio/>]]></speak>", "SSML CDATA sections are not allowed"),
            ("unclosed", #"<speak>Hi <prosody rate="slow">there</speak>"#, "</speak> where <prosody> (byte 10) should be closed"),
            ("quote", #"<speak><prosody rate="slow>there</prosody></speak>"#, "'>' inside the value of attribute \"rate\""),
            ("lt", "<speak>1 < 2</speak>", "'<' starts no tag (write &lt; for a literal <)"),
            ("deep", String(repeating: "<s>", count: 40) + "deep" + String(repeating: "</s>", count: 40), "nested too deeply"),
        ]
        for c in malformed {
            try lab.say(["id": c.id, "text": c.text, "ssml": true])
            let event = try lab.finalEvent(c.id)
            XCTAssertEqual(event["state"] as? String, "failed", "\(c.id): \(event)")
            let reason = event["reason"] as? String ?? ""
            XCTAssertTrue(reason.contains("speech synthesis failed: SSML") && reason.contains(c.reason), "\(c.id): \(reason)")
        }
        try lab.assertUnharmed("after the malformed ones")
        XCTAssertEqual(lab.plays, [], "nothing was played")

        // The same texts without "ssml" are just words: spoken, nothing run.
        try lab.say(["id": "words", "text": #"audio src="/etc/passwd""#])
        XCTAssertEqual(try lab.finalEvent("words")["state"] as? String, "done")
        try lab.assertUnharmed("after plain text")
    }

    /// (d) The allowed markup still works: the pause and prosody reach the audio (the clip is as
    /// long as espeak-ng's own rendering of the same SSML), and a plain announcement after it plays.
    func testAllowedSSMLStillSpeaksAndThePlainAnnouncementAfterItPlays() throws {
        let lab = try Lab()
        let ssml = #"<?xml version="1.0"?><speak xml:lang="en">Hello <break time="1500ms"/> "#
            + #"<prosody rate="slow">the <emphasis level="strong">bins</emphasis></prosody> "#
            + #"<say-as interpret-as="characters">go</say-as> out &amp; <sub alias="tonight">tnt</sub>.</speak>"#
        try lab.say(["id": "ssml", "text": ssml, "ssml": true])
        XCTAssertEqual(try lab.finalEvent("ssml")["state"] as? String, "done")
        let served = try lab.clipSeconds(play: 0)
        let reference = lab.scratch.file("reference.wav")
        try Shell.runChecked(["espeak-ng", "-m", "-w", reference, ssml])
        let own = try Self.seconds(of: reference)
        XCTAssertGreaterThan(served, 1.5 + 1.0, "the 1.5 s pause and the words are in the clip")
        XCTAssertEqual(served, own, accuracy: own * 0.05, "served \(served) s, espeak-ng's own \(own) s")

        try lab.say(["id": "plain", "text": "Please take the bins out tonight."])
        XCTAssertEqual(try lab.finalEvent("plain")["state"] as? String, "done")
        XCTAssertEqual(lab.plays.count, 2)
        XCTAssertGreaterThan(try lab.clipSeconds(play: 1), 1.0)
        try lab.assertUnharmed("after allowed SSML")
    }
}
