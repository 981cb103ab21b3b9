import Foundation
import LabKit
import XCTest

/// The plugin ABI end to end: real shared objects built with `cc`, loaded by the real daemon.
final class PluginTests: XCTestCase {
    let logID = "org.speakerbridge.example.log-speaker"

    func testCExampleBuildsWithPkgConfigAndServesSpeakersAndTypedCommands() throws {
        var logFile = ""
        let lab = try PluginDaemon { dir, scratch in
            // Exactly what the example's README tells a plugin author to do.
            try Shell.runChecked([PluginBuild.root + "/scripts/plugin-dev.sh", "pc", scratch + "/pc"])
            let out = scratch + "/log-speaker.so"
            let make = try Shell.run(["env", "PKG_CONFIG_PATH=\(scratch)/pc", "make", "-C", PluginBuild.root + "/Examples/log-speaker", "OUT=\(out)"])
            XCTAssertEqual(make.status, 0, make.err)
            XCTAssertFalse(make.out.contains("pkg-config cannot find") || make.err.contains("pkg-config cannot find"), "built through pkg-config")
            logFile = scratch + "/log.txt"
            try PluginBuild.install(out, as: dir + "/log-speaker.so")
            try writeJSON(["log": logFile, "speakers": ["Kitchen", "Bath"]], to: dir + "/log-speaker.json")
        }
        let info = try lab.info()
        let loaded = try XCTUnwrap(info["loaded"] as? [[String: Any]])
        XCTAssertEqual(loaded.first?["id"] as? String, logID)
        XCTAssertEqual(loaded.first?["generation"] as? Int, 1)
        XCTAssertEqual((loaded.first?["speakers"] as? [[String: Any]])?.compactMap { $0["name"] as? String }, ["Kitchen", "Bath"])

        let answer = try lab.request("plugin/\(logID)/volume", ["speaker": "log-kitchen", "level": 30])
        XCTAssertEqual(answer["status"] as? String, "ok", "\(answer)")
        XCTAssertEqual((answer["data"] as? [String: Any])?["volume"] as? Int, 30)

        // A speaker command: the plugin that drives "Kitchen" gets its id as `speaker`.
        try lab.client.publish(topic: "\(lab.base)/Kitchen/set", payload: #"{"command":"volume","level":12,"transaction":"k1"}"#, qos: 1)
        let set = try lab.client.waitFor("\(lab.base)/Kitchen/set/response") { json($0)["transaction"] as? String == "k1" }
        XCTAssertEqual(json(set)["status"] as? String, "ok", set.text)
        XCTAssertEqual(lab.log(logFile), ["command volume log-kitchen 30 false", "command volume log-kitchen 12 false"])

        // bridge/info lists the plugin and its speakers too.
        let bridgeInfo = try lab.client.waitFor("\(lab.base)/bridge/info") { (json($0)["plugins"] as? [Any])?.isEmpty == false }
        XCTAssertEqual((json(bridgeInfo)["speakers"] as? [[String: Any]])?.count, 2)
    }

    func testEachRejectionHasItsOwnMessageAndTheDaemonCarriesOn() throws {
        let lab = try PluginDaemon { dir, scratch in
            try "not an ELF file\n".write(toFile: dir + "/text.so", atomically: true, encoding: .utf8)
            try PluginBuild.fixture("no_entry", to: dir + "/no-entry.so")
            try PluginBuild.fixture("null_descriptor", to: dir + "/null-descriptor.so")
            try PluginBuild.fixture("minimal", to: dir + "/bad-id.so", [#"FIXTURE_ID="Bad ID!""#])
            try PluginBuild.logSpeaker(to: dir + "/a-log-speaker.so")
            try writeJSON(["log": scratch + "/log.txt"], to: dir + "/a-log-speaker.json")
            try PluginBuild.fixture("minimal", to: dir + "/b-duplicate.so", [#"FIXTURE_ID="\#(self.logID)""#])
            try PluginBuild.logSpeaker(to: dir + "/abi-major.so", ["LOG_SPEAKER_ABI_MAJOR=2", #"LOG_SPEAKER_ID="t.major""#])
            try PluginBuild.logSpeaker(to: dir + "/abi-minor.so", ["LOG_SPEAKER_ABI_MINOR=99", #"LOG_SPEAKER_ID="t.minor""#])
            try PluginBuild.logSpeaker(to: dir + "/create-fails.so", [#"LOG_SPEAKER_ID="t.fails""#])
            try writeJSON(["log": scratch + "/x.txt", "fail": "the speaker cable is unplugged"], to: dir + "/create-fails.json")
            try PluginBuild.logSpeaker(to: dir + "/writable.so", [#"LOG_SPEAKER_ID="t.writable""#])
            chmod(dir + "/writable.so", 0o666)
        }
        let info = try lab.info()
        let loaded = (info["loaded"] as? [[String: Any]])?.compactMap { $0["id"] as? String }
        XCTAssertEqual(loaded, [logID], "the one good plugin still loads")
        var rejected: [String: String] = [:]
        for r in info["rejected"] as? [[String: Any]] ?? [] {
            rejected[((r["file"] as? String ?? "") as NSString).lastPathComponent] = r["error"] as? String ?? ""
        }
        let expected = [
            "text.so": "is not a loadable shared object",
            "no-entry.so": "does not export speakerbridge_plugin_entry()",
            "null-descriptor.so": "returned NULL",
            "bad-id.so": "is not a reverse-DNS id",
            "b-duplicate.so": "is already provided by",
            "abi-major.so": "was built for plugin ABI 2.x",
            "abi-minor.so": "needs plugin ABI 1.99",
            "create-fails.so": "create failed: the speaker cable is unplugged",
            "writable.so": "writable by group or others",
        ]
        for (file, message) in expected {
            XCTAssertTrue(rejected[file]?.contains(message) == true, "\(file): expected “\(message)”, got \(rejected[file] ?? "nothing")")
        }
        XCTAssertEqual(rejected.count, expected.count, "\(rejected)")
        XCTAssertEqual(Set(rejected.values).count, expected.count, "every reason reads differently")
        XCTAssertTrue(lab.daemon.log().contains("plugins: rejected"), "rejections are logged")
        XCTAssertEqual(try lab.request("health")["status"] as? String, "ok")

        // The offline check gives the same reasons.
        let check = try DaemonProcess.run(arguments: ["plugin", "check", lab.plugins.path + "/abi-major.so"])
        XCTAssertEqual(check.status, 1)
        XCTAssertTrue(check.output.contains("was built for plugin ABI 2.x"), check.output)
    }

    func testWrongArgumentsGetPreciseErrorsAndNeverReachThePlugin() throws {
        var logFile = ""
        let lab = try PluginDaemon { dir, scratch in
            logFile = scratch + "/log.txt"
            try PluginBuild.logSpeaker(to: dir + "/log-speaker.so")
            try writeJSON(["log": logFile], to: dir + "/log-speaker.json")
        }
        let cases: [([String: Any], String)] = [
            (["speaker": "log-log", "level": "loud"], #""level" must be"#),
            (["speaker": "log-log"], #"missing"#),
            (["speaker": "log-log", "level": 30, "colour": "red"], #"unknown argument "colour""#),
            (["speaker": "log-log", "level": 150], "0 to 100"),
            (["speaker": 7, "level": 30], #""speaker""#),
            (["speaker": "log-log", "level": 30, "ramp": "yes"], #""ramp""#),
            (["speaker": "log-log", "level": 2.5], #""level""#),
        ]
        for (args, expected) in cases {
            let answer = try lab.request("plugin/\(logID)/volume", args)
            XCTAssertEqual(answer["status"] as? String, "error", "\(args)")
            let error = answer["error"] as? String ?? ""
            XCTAssertTrue(error.contains(expected), "\(args): expected “\(expected)” in “\(error)”")
        }
        let unknown = try lab.request("plugin/\(logID)/volumes", [:])
        XCTAssertTrue((unknown["error"] as? String ?? "").contains("has no command 'volumes'"), "\(unknown)")
        let noPlugin = try lab.request("plugin/org.nobody/volume", [:])
        XCTAssertTrue((noPlugin["error"] as? String ?? "").contains("no plugin with id org.nobody"), "\(noPlugin)")
        XCTAssertEqual(lab.log(logFile), [], "the plugin was never called")
        XCTAssertEqual(try lab.request("plugin/\(logID)/volume", ["speaker": "log-log", "level": 5])["status"] as? String, "ok")
        XCTAssertEqual(lab.log(logFile), ["command volume log-log 5 false"])
    }

    func testABrokenNewBuildLeavesTheOldGenerationServing() throws {
        var logFile = ""
        var staging = ""
        let lab = try PluginDaemon(settings: ["plugins.watch": "false"]) { dir, scratch in
            logFile = scratch + "/log.txt"
            staging = scratch
            try PluginBuild.logSpeaker(to: dir + "/log-speaker.so")
            try writeJSON(["log": logFile], to: dir + "/log-speaker.json")
        }
        let so = lab.plugins.path + "/log-speaker.so"
        // A build for another ABI major.
        try PluginBuild.logSpeaker(to: staging + "/major2.so", ["LOG_SPEAKER_ABI_MAJOR=2", #"LOG_SPEAKER_ANSWER="b""#])
        try PluginBuild.install(staging + "/major2.so", as: so)
        let reload = try lab.request("plugins/reload", ["id": logID])
        XCTAssertEqual(reload["status"] as? String, "error")
        XCTAssertTrue((reload["error"] as? String ?? "").contains("was built for plugin ABI 2.x"), "\(reload)")
        var echo = try lab.request("plugin/\(logID)/echo", ["text": "still here"])
        XCTAssertEqual((echo["data"] as? [String: Any])?["answer"] as? String, "a", "generation 1 keeps answering: \(echo)")
        XCTAssertEqual(echo["generation"] as? Int, 1)

        // A build whose create fails (its configuration now says so).
        try PluginBuild.logSpeaker(to: staging + "/b.so", [#"LOG_SPEAKER_ANSWER="b""#])
        try PluginBuild.install(staging + "/b.so", as: so)
        try writeJSON(["log": logFile, "fail": "cannot open the sound card"], to: lab.plugins.path + "/log-speaker.json")
        let failed = try lab.request("plugins/reload", [:])
        XCTAssertTrue((failed["error"] as? String ?? "").contains("create failed: cannot open the sound card"), "\(failed)")
        echo = try lab.request("plugin/\(logID)/echo", ["text": "still here"])
        XCTAssertEqual((echo["data"] as? [String: Any])?["answer"] as? String, "a")

        // Fixed: the reload goes through and the state (the command count) comes along.
        try writeJSON(["log": logFile], to: lab.plugins.path + "/log-speaker.json")
        let ok = try lab.request("plugins/reload", ["id": logID])
        XCTAssertEqual(ok["status"] as? String, "ok", "\(ok)")
        let count = try lab.request("plugin/\(logID)/count", [:])
        XCTAssertEqual((count["data"] as? [String: Any])?["answer"] as? String, "b")
        XCTAssertEqual((count["data"] as? [String: Any])?["commands"] as? Int, 2, "handed over from the old generation: \(count)")
        XCTAssertGreaterThan(count["generation"] as? Int ?? 0, 1)
    }

    func testAHungCallIsReportedAndOtherPluginsKeepWorking() throws {
        let lab = try PluginDaemon(settings: ["plugins.call_timeout": "1"]) { dir, scratch in
            try PluginBuild.logSpeaker(to: dir + "/slow.so", [#"LOG_SPEAKER_ID="t.slow""#])
            try writeJSON(["log": scratch + "/slow.txt"], to: dir + "/slow.json")
            try PluginBuild.logSpeaker(to: dir + "/fast.so", [#"LOG_SPEAKER_ID="t.fast""#])
            try writeJSON(["log": scratch + "/fast.txt"], to: dir + "/fast.json")
        }
        let started = Date()
        let hung = try lab.request("plugin/t.slow/sleep", ["ms": 6000])
        XCTAssertEqual(hung["status"] as? String, "error")
        XCTAssertTrue((hung["error"] as? String ?? "").contains("did not finish command 'sleep' within 1.0 s"), "\(hung)")
        XCTAssertLessThan(Date().timeIntervalSince(started), 4, "answered at the deadline, not when the call returned")
        // While t.slow is still stuck: it fails fast, and everyone else is fine.
        let again = try lab.request("plugin/t.slow/echo", ["text": "x"])
        XCTAssertTrue((again["error"] as? String ?? "").contains("is not responding"), "\(again)")
        XCTAssertEqual(try lab.request("plugin/t.fast/echo", ["text": "hello"])["status"] as? String, "ok")
        XCTAssertEqual(try lab.request("health")["status"] as? String, "ok")
        // Once the stuck call returns, the plugin serves again.
        Thread.sleep(forTimeInterval: 5.5)
        XCTAssertEqual(try lab.request("plugin/t.slow/echo", ["text": "back"])["status"] as? String, "ok")
    }

    func testSIGHUPReloadsAndTheCLIListsGenerations() throws {
        let lab = try PluginDaemon(settings: ["plugins.watch": "false"]) { dir, scratch in
            try PluginBuild.logSpeaker(to: dir + "/log-speaker.so")
            try writeJSON(["log": scratch + "/log.txt", "speakers": ["Porch"]], to: dir + "/log-speaker.json")
        }
        let pid = try XCTUnwrap(lab.daemon.process.pid)
        kill(pid, SIGHUP)
        try lab.daemon.process.waitForLog(containing: "plugins: reloaded \(logID)", timeout: 10)
        let list = try DaemonProcess.run(arguments: ["plugins", "list", "--broker", "127.0.0.1:\(lab.broker.port)", "--set", "base_topic=\(lab.base)"])
        XCTAssertEqual(list.status, 0, list.output)
        XCTAssertTrue(list.output.contains("\(logID) 1.0.0 generation 2"), list.output)
        XCTAssertTrue(list.output.contains("speakers: Porch"), list.output)
        XCTAssertTrue(list.output.contains("command volume (speaker:str level:i32[0..100] ramp:bool=false)"), list.output)
        XCTAssertTrue(lab.daemon.process.isRunning, "SIGHUP reloads, it does not stop the daemon")
        XCTAssertEqual(lab.daemon.count("mqtt: connected to"), 1)
    }

    func testPlayCompletesThroughTheHostAndAnOperationPastItsDeadlineFails() throws {
        var logFile = ""
        let lab = try PluginDaemon(settings: ["plugins.operation_timeout": "1.5"]) { dir, scratch in
            logFile = scratch + "/log.txt"
            try PluginBuild.logSpeaker(to: dir + "/log-speaker.so")
            try writeJSON(["log": logFile, "speakers": ["Hall"]], to: dir + "/log-speaker.json")
        }
        let state = try TestClient()
        try state.connect(port: lab.broker.port)
        try state.subscribe("\(lab.base)/log-hall/state")
        let started = Date()
        let played = try lab.request("play", ["speaker": "Hall", "url": "http://127.0.0.1:9/doorbell.wav", "duration_ms": 300, "volume": 40])
        XCTAssertEqual(played["status"] as? String, "ok", "\(played)")
        XCTAssertGreaterThanOrEqual(Date().timeIntervalSince(started), 0.3, "answered when the clip ended")
        XCTAssertEqual(lab.log(logFile), ["play log-hall http://127.0.0.1:9/doorbell.wav audio/wav 40"])
        let playing = try state.waitFor("\(lab.base)/log-hall/state")
        XCTAssertTrue(playing.retain || playing.text.contains("playing"), playing.text)
        XCTAssertEqual(json(playing)["url"] as? String, "http://127.0.0.1:9/doorbell.wav", "the plugin's state, published through the host")

        let stuck = try lab.request("play", ["speaker": "Hall", "url": "http://127.0.0.1:9/never-complete.wav"])
        XCTAssertEqual(stuck["status"] as? String, "error")
        XCTAssertTrue((stuck["error"] as? String ?? "").contains("did not finish playing on log-hall within 1.5 s"), "\(stuck)")
        XCTAssertTrue(lab.daemon.log().contains("was never completed"), "reported in the log")
        let unknown = try lab.request("play", ["speaker": "Attic", "url": "http://127.0.0.1:9/a.wav"])
        XCTAssertEqual(unknown["error"] as? String, "unknown speaker 'Attic'")
        XCTAssertEqual(try lab.request("plugin/\(logID)/echo", ["text": "still fine"])["status"] as? String, "ok")
    }

    func testASwiftPluginBuiltWithPluginKitLoadsAndServes() throws {
        // Built by `swift build` next to the daemon (the SwiftEchoSpeaker product).
        let binary = try DaemonProcess.binaryPath()
        let library = ((binary as NSString).deletingLastPathComponent) + "/libSwiftEchoSpeaker.so"
        guard FileManager.default.fileExists(atPath: library) else {
            return XCTFail("\(library) is missing: build the package (swift build) before the tests")
        }
        let lab = try PluginDaemon { dir, _ in
            try PluginBuild.install(library, as: dir + "/swift-echo.so")
            try writeJSON(["greeting": "Hej"], to: dir + "/swift-echo.json")
        }
        let loaded = (try lab.info()["loaded"] as? [[String: Any]])?.first
        XCTAssertEqual(loaded?["id"] as? String, "org.speakerbridge.example.swift-echo")
        let echo = try lab.request("plugin/org.speakerbridge.example.swift-echo/echo", ["text": "grüß dich"])
        XCTAssertEqual(echo["status"] as? String, "ok", "\(echo)")
        XCTAssertEqual((echo["data"] as? [String: Any])?["echo"] as? String, "grüß dich")
        XCTAssertEqual((echo["data"] as? [String: Any])?["from"] as? String, "swift")
        let played = try lab.request("play", ["speaker": "Echo", "url": "http://127.0.0.1:9/a.wav"])
        XCTAssertEqual(played["status"] as? String, "ok", "\(played)")
        XCTAssertTrue(lab.daemon.log().contains("Hej (swift-echo ready)"), "the plugin logs through the host")
        // A Swift image stays mapped after a reload (the runtime keeps its metadata); it still works.
        XCTAssertEqual(try lab.request("plugins/reload", [:])["status"] as? String, "ok")
        XCTAssertEqual(try lab.request("plugin/org.speakerbridge.example.swift-echo/echo", ["text": "again"])["status"] as? String, "ok")
    }

    func testPluginsFetchOverTheHostsHTTPClient() throws {
        let lab = try PluginDaemon { dir, _ in
            try PluginBuild.fixture("http_probe", to: dir + "/http-probe.so")
        }
        // A plain HTTP server on loopback, standing in for a speaker's description document.
        let site = try TempDirectory(prefix: "sbsite")
        try String(repeating: "<root>speaker</root>\n", count: 100).write(toFile: site.file("description.xml"), atomically: true, encoding: .utf8)
        let port = freePort()
        let server = Process()
        server.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        server.arguments = ["python3", "-m", "http.server", "--bind", "127.0.0.1", "--directory", site.path, String(port)]
        server.standardOutput = FileHandle.nullDevice
        server.standardError = FileHandle.nullDevice
        try server.run()
        defer { server.terminate() }
        XCTAssertTrue(waitUntil(timeout: 10) { tcpConnects(host: "127.0.0.1", port: port) })

        func fetch(_ url: String) throws -> [String: Any] {
            XCTAssertEqual(try lab.request("plugin/org.speakerbridge.test.http-probe/get", ["url": url])["status"] as? String, "ok")
            var last: [String: Any] = [:]
            XCTAssertTrue(waitUntil(timeout: 10) {
                last = ((try? lab.request("plugin/org.speakerbridge.test.http-probe/last"))?["data"] as? [String: Any]) ?? [:]
                return last["done"] as? Bool == true
            })
            return last
        }
        let ok = try fetch("http://127.0.0.1:\(port)/description.xml")
        XCTAssertEqual(ok["http_status"] as? Int, 200, "\(ok)")
        XCTAssertEqual(ok["bytes"] as? Int, 2100)
        XCTAssertTrue((ok["content_type"] as? String ?? "").contains("xml"), "response headers reach the plugin: \(ok)")
        XCTAssertEqual(try fetch("http://127.0.0.1:\(port)/missing.xml")["http_status"] as? Int, 404)
        let refused = try fetch("http://127.0.0.1:\(freePort())/x")
        XCTAssertEqual(refused["status"] as? Int, -3, "a connection refused is a failed request: \(refused)")
    }
}
