import Foundation
import LabKit
import XCTest

/// Crash-isolated plugins (`plugins.isolation=process`): a driver that segfaults, aborts, exits,
/// closes its socket, hangs or allocates without bound takes down its own plugin host process only.
/// In every case the daemon keeps its one MQTT session (the broker log shows a single connection of
/// its client id), the other plugins keep serving, the caller gets an error naming what happened,
/// the speakers go offline and come back online, and the plugin is restarted with the state the
/// last generation handed over. The misbehaving driver is Tests/Fixtures/plugins/misbehaving.c.
final class IsolationTests: XCTestCase {
    let fixtureID = "org.speakerbridge.tests.misbehaving"

    // MARK: - One test per way to die

    func testASegfaultInACommandTakesDownOnlyThePluginHost() throws {
        try misbehave("segfault", answer: "crashed (SIGSEGV)", exit: "SIGSEGV")
    }

    func testAnAbortInACommandTakesDownOnlyThePluginHost() throws {
        try misbehave("abort", answer: "crashed (SIGABRT)", exit: "SIGABRT")
    }

    func testAnExitInACommandTakesDownOnlyThePluginHost() throws {
        try misbehave("exit3", answer: "exited with status 3", exit: "status 3")
    }

    func testAPluginThatClosesItsSocketIsKilledAndRestarted() throws {
        // The plugin host's reader sees the end of its connection and exits with the status that
        // says so; a plugin host that lingered would be killed: either way, "closed its socket".
        try misbehave("close_socket", answer: "closed its socket", exit: "closed its socket")
    }

    func testAHungPluginIsKilledAfterTheGracePeriodAndRestarted() throws {
        // The caller gets the deadline's answer at call_timeout (as inline); the process is killed a
        // grace period later and that is what the plugin's last exit says.
        try misbehave("hang", answer: "did not finish command 'hang' within 2", exit: "hung")
    }

    func testUnboundedAllocationHitsTheAddressSpaceLimitOfThePluginHostOnly() throws {
        // Writing through the NULL of the first failed malloc is a SIGSEGV; had the Swift side of the
        // plugin host been the one to run out first it would be a SIGABRT or SIGTRAP: still only the
        // plugin host, which is what this test is about. Touching 1 GiB on a loaded 2-core machine
        // can take longer than the suite's 2 s call timeout (seen beside a CI run), so this one has 15.
        try misbehave("allocate", answer: "crashed (SIG", exit: "SIG",
                      settings: ["plugins.memory_limit_mb": "1024", "plugins.call_timeout": "15"])
    }

    // MARK: - An announcement in flight

    func testACrashDuringPlayFailsThatSpeakerOnlyAndTheOtherIsDone() throws {
        let lab = try isolatedLab()
        let before = try fixture(lab)
        let clientID = try XCTUnwrap(try lab.health()["client_id"] as? String)

        try lab.announce(["id": "both", "text": "Hello both.", "speakers": ["Bomb", "Kitchen"]])
        let final = try lab.waitForFinal(id: "both", timeout: 30)
        XCTAssertEqual(final["state"] as? String, "failed", "\(final)")
        let results = final["results"] as? [String: Any] ?? [:]
        XCTAssertTrue((results["Bomb"] as? String ?? "").contains("crashed (SIGSEGV)"), "\(final)")
        XCTAssertEqual(results["Kitchen"] as? String, "done", "\(final)")

        let after = try waitForRestart(lab, from: before)
        XCTAssertEqual(after["restarts"] as? Int, 1, "\(after)")
        // Calm, the crashed driver's other speaker, plays again once it is back.
        try lab.announce(["id": "calm", "text": "Still calm.", "speakers": ["Calm"]])
        XCTAssertEqual(try lab.waitForFinal(id: "calm", timeout: 30)["state"] as? String, "done")
        XCTAssertEqual(lab.broker.connections(of: clientID), 1, "the daemon kept its one session")
    }

    // MARK: - The crash-loop guard

    func testACrashLoopLeavesThePluginDownUntilAReload() throws {
        let lab = try isolatedLab(speech: false)
        let clientID = try XCTUnwrap(try lab.health()["client_id"] as? String)
        let started = Date()
        var crashes = 0
        var state = ""
        while crashes < 6, Date().timeIntervalSince(started) < 60 {
            // Each restart waits out a longer backoff; crash it as soon as it is back.
            guard waitUntil(timeout: 40, interval: 0.05, {
                state = (try? self.fixture(lab))?["state"] as? String ?? ""
                return state == "running" || state == "down"
            }) else { return XCTFail("the plugin neither came back nor went down: state \(state)") }
            if state == "down" { break }
            let answer = try lab.request("plugin/\(fixtureID)/segfault", [:], timeout: 20)
            XCTAssertEqual(answer["status"] as? String, "error", "\(answer)")
            crashes += 1
        }
        XCTAssertTrue(waitUntil(timeout: 10, interval: 0.1) { ((try? self.fixture(lab))?["state"] as? String) == "down" },
                      "down after \(crashes) crashes: \(String(describing: try? fixture(lab)))")
        XCTAssertLessThanOrEqual(crashes, 6)

        // Down: calls fail at once with the reason, health names it, bridge/info shows it.
        let refused = try lab.request("plugin/\(fixtureID)/ok", [:])
        XCTAssertTrue((refused["error"] as? String ?? "").contains("is down"), "\(refused)")
        let health = try lab.health()
        XCTAssertEqual(health["healthy"] as? Bool, false, "\(health)")
        let problems = (health["problems"] as? [String] ?? []).joined(separator: "; ")
        XCTAssertTrue(problems.contains(fixtureID), "health names the plugin: \(problems)")
        let info = try lab.client.waitFor("\(lab.base)/bridge/info", timeout: 10) { message in
            let plugins = json(message)["plugins"] as? [[String: Any]] ?? []
            return plugins.contains { $0["id"] as? String == self.fixtureID && $0["state"] as? String == "down" }
        }
        XCTAssertFalse(info.payload.isEmpty)

        // A reload of that plugin is the way back.
        let reload = try lab.request("plugins/reload", ["id": fixtureID], timeout: 30)
        XCTAssertEqual(reload["status"] as? String, "ok", "\(reload)")
        XCTAssertTrue(waitUntil(timeout: 20, interval: 0.1) { ((try? self.fixture(lab))?["state"] as? String) == "running" })
        XCTAssertEqual(try lab.request("plugin/\(fixtureID)/ok", [:])["status"] as? String, "ok")
        XCTAssertEqual(try lab.health()["healthy"] as? Bool, true)
        XCTAssertEqual(lab.broker.connections(of: clientID), 1, "the daemon kept its one session")
    }

    // MARK: - What the plugin host process is given

    func testThePluginHostHasOnlyItsSocketAndTheConfiguredLimits() throws {
        let lab = try isolatedLab(speech: false, settings: ["plugins.memory_limit_mb": "1536", "plugins.open_files_limit": "64"])
        let pid = try XCTUnwrap(try fixture(lab)["pid"] as? Int, "plugins lists the plugin host's pid")
        XCTAssertNotEqual(pid, lab.daemon.process.pid.map(Int.init), "a process of its own")

        // 0 /dev/null, 1 and 2 the output the daemon reads, 3 the socket to the daemon. Anything else
        // must be what the process made itself (the dispatch runtime's epoll, eventfd and timerfd):
        // no file, pipe or socket of the daemon's is inherited.
        var fds: [Int: String] = [:]
        for name in try FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd") {
            guard let fd = Int(name) else { continue }
            fds[fd] = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/fd/\(name)")) ?? "?"
        }
        XCTAssertEqual(fds[0], "/dev/null")
        XCTAssertEqual(fds[1], fds[2], "stdout and stderr go to the same place")
        XCTAssertTrue(["socket:", "pipe:"].contains { fds[1]?.hasPrefix($0) == true }, "\(fds)")
        XCTAssertTrue(fds[3]?.hasPrefix("socket:") == true, "\(fds)")
        let others = fds.filter { $0.key > 3 && !$0.value.hasPrefix("anon_inode:") }
        XCTAssertEqual(others, [:], "nothing inherited beyond the socket: \(fds)")

        let limits = try String(contentsOfFile: "/proc/\(pid)/limits", encoding: .utf8)
        func limit(_ name: String) -> [String] {
            let line = limits.split(separator: "\n").first { $0.hasPrefix(name) } ?? ""
            return line.dropFirst(name.count).split(separator: " ").map(String.init)
        }
        XCTAssertEqual(limit("Max address space").prefix(2), ["\(1536 << 20)", "\(1536 << 20)"], limits)
        XCTAssertEqual(limit("Max open files").prefix(2), ["64", "64"], limits)

        // The same binary, as its hidden subcommand.
        let cmdline = try String(contentsOfFile: "/proc/\(pid)/cmdline", encoding: .utf8).split(separator: "\0").map(String.init)
        XCTAssertTrue(cmdline.contains("plugin-host"), "\(cmdline)")
    }

    // MARK: - The scenario every way to die goes through

    /// Builds the lab, counts two commands and reloads (so the state blob the restart gets is known:
    /// a reload hands it over), then sends `command` and, in the crash window, an announcement to the
    /// log speaker; then checks everything the issue promises.
    private func misbehave(_ command: String, answer expected: String, exit: String,
                           settings: [String: String] = [:], file: StaticString = #filePath, line: UInt = #line) throws {
        try misbehave(command, answer: [expected], exit: [exit], settings: settings, file: file, line: line)
    }

    /// The same, with the texts any one of which the answer and the last exit must contain.
    private func misbehave(_ command: String, answer expected: [String], exit: [String],
                           settings: [String: String] = [:], file: StaticString = #filePath, line: UInt = #line) throws {
        let lab = try isolatedLab(settings: settings)
        let clientID = try XCTUnwrap(try lab.health()["client_id"] as? String)
        for _ in 0..<2 { XCTAssertEqual(try lab.request("plugin/\(fixtureID)/ok", [:])["status"] as? String, "ok") }
        let reload = try lab.request("plugins/reload", ["id": fixtureID], timeout: 30)
        XCTAssertEqual(reload["status"] as? String, "ok", "\(reload)", file: file, line: line)
        XCTAssertEqual(try count(lab), 2, "a reload hands the counter over", file: file, line: line)
        let before = try fixture(lab)
        XCTAssertEqual(before["isolation"] as? String, "process", "\(before)", file: file, line: line)
        XCTAssertEqual(before["state"] as? String, "running", "\(before)", file: file, line: line)
        try waitForAvailability(lab, "bomb", "online")
        lab.client.clearMessages()

        let requester = BridgeRequester(client: lab.client, base: lab.base)
        let sent = try requester.send("plugin/\(fixtureID)/\(command)")
        try lab.announce(["id": "meanwhile", "text": "The kitchen carries on.", "speakers": ["Kitchen"]])

        // The caller is told what happened.
        var reply: ReceivedMessage?
        XCTAssertTrue(waitUntil(timeout: 20, interval: 0.01) { reply = requester.answer("plugin/\(fixtureID)/\(command)", sent.transaction); return reply != nil },
                      "no answer to \(command)", file: file, line: line)
        let answer = reply.map(json) ?? [:]
        XCTAssertEqual(answer["status"] as? String, "error", "\(answer)", file: file, line: line)
        let error = answer["error"] as? String ?? ""
        XCTAssertTrue(expected.contains { error.contains($0) }, "expected one of \(expected) in \(answer)", file: file, line: line)

        // The log speaker kept serving.
        let meanwhile = try lab.waitForFinal(id: "meanwhile", timeout: 30)
        XCTAssertEqual(meanwhile["state"] as? String, "done", "\(meanwhile)", file: file, line: line)

        // The plugin is back: a new process, one restart, the last exit named, the state carried over.
        let after = try waitForRestart(lab, from: before, file: file, line: line)
        XCTAssertEqual(after["restarts"] as? Int, 1, "\(after)", file: file, line: line)
        let lastExit = "\(after["last_exit"] ?? "")"
        XCTAssertTrue(exit.contains { lastExit.contains($0) }, "last_exit names one of \(exit): \(lastExit)", file: file, line: line)
        XCTAssertEqual(try count(lab), 2, "the restart was handed the last saved state", file: file, line: line)

        // Its speakers went offline and came back online; the crash was announced as an event.
        for speaker in ["bomb", "calm"] {
            try waitForAvailability(lab, speaker, "online")
            let seen = lab.client.messages(on: "\(lab.base)/\(speaker)/availability").map(\.text)
            XCTAssertEqual(seen.first, "offline", "\(speaker): \(seen)", file: file, line: line)
            XCTAssertEqual(seen.last, "online", "\(speaker): \(seen)", file: file, line: line)
        }
        // The crash event names the plugin and what happened, with the plugin's last output lines
        // (the fixture writes "misbehaving: <command>" to stderr before it misbehaves).
        let crashed = lab.client.messages(on: "\(lab.base)/bridge/event/plugin_crashed").map(json)
            .filter { $0["plugin"] as? String == fixtureID }
        XCTAssertEqual(crashed.count, 1, "one plugin_crashed event: \(crashed)", file: file, line: line)
        let event = crashed.first ?? [:]
        let reason = event["reason"] as? String ?? ""
        XCTAssertTrue(exit.contains { reason.contains($0) }, "the event's reason names one of \(exit): \(event)", file: file, line: line)
        XCTAssertTrue((event["last_lines"] as? [String] ?? []).contains { $0.contains("misbehaving: \(command)") },
                      "the event carries the plugin's last output lines: \(event)", file: file, line: line)
        let log = lab.daemon.log()
        XCTAssertTrue(log.contains(fixtureID) && exit.contains { log.contains($0) }, "the daemon log reports the exit", file: file, line: line)
        XCTAssertTrue(log.contains("misbehaving: \(command)"), "the daemon log shows the plugin's output", file: file, line: line)

        // And through all of it, one MQTT session.
        XCTAssertTrue(lab.daemon.process.isRunning, file: file, line: line)
        XCTAssertEqual(lab.broker.connections(of: clientID), 1, "one connection of \(clientID) for the whole test", file: file, line: line)
    }

    // MARK: - Helpers

    /// A daemon with every plugin in a plugin host process: the misbehaving driver (speakers Bomb and
    /// Calm) and, with `speech`, the TTS plugin and a log speaker (Kitchen) for announcements.
    private func isolatedLab(speech: Bool = true, settings: [String: String] = [:]) throws -> PluginDaemon {
        var all = ["plugins.isolation": "process", "plugins.call_timeout": "2"]
        all.merge(settings) { $1 }
        let build: (String, String) throws -> Void = { dir, _ in
            try PluginBuild.fixture("misbehaving", to: dir + "/misbehaving.so")
        }
        let lab = speech
            ? try PluginDaemon.speech(settings: all, speakers: ["Kitchen"], extra: build)
            : try PluginDaemon(settings: all, prepare: build)
        try lab.client.subscribe("\(lab.base)/+/availability")
        XCTAssertTrue(waitUntil(timeout: 10, interval: 0.05) { (try? self.fixture(lab)) != nil }, "the fixture loaded")
        return lab
    }

    /// The fixture's entry in the `plugins` answer.
    private func fixture(_ lab: PluginDaemon) throws -> [String: Any] {
        let loaded = try lab.info()["loaded"] as? [[String: Any]] ?? []
        guard let entry = loaded.first(where: { $0["id"] as? String == fixtureID }) else {
            throw LabError("\(fixtureID) is not loaded: \(loaded.map { $0["id"] ?? "?" })")
        }
        return entry
    }

    private func count(_ lab: PluginDaemon) throws -> Int? {
        let answer = try lab.request("plugin/\(fixtureID)/count", [:])
        return (answer["data"] as? [String: Any])?["count"] as? Int
    }

    /// Waits until the fixture runs again in another process than `before`'s.
    @discardableResult
    private func waitForRestart(_ lab: PluginDaemon, from before: [String: Any],
                                file: StaticString = #filePath, line: UInt = #line) throws -> [String: Any] {
        let oldPID = before["pid"] as? Int
        var now: [String: Any] = [:]
        let back = waitUntil(timeout: 20, interval: 0.05) {
            now = (try? self.fixture(lab)) ?? [:]
            return now["state"] as? String == "running" && now["pid"] as? Int != nil && now["pid"] as? Int != oldPID
        }
        XCTAssertTrue(back, "running again in a new process: \(now)", file: file, line: line)
        return now
    }

    private func waitForAvailability(_ lab: PluginDaemon, _ speaker: String, _ value: String) throws {
        _ = try lab.client.waitFor("\(lab.base)/\(speaker)/availability", timeout: 20) { message in
            lab.client.messages(on: "\(lab.base)/\(speaker)/availability").last?.text == value && message.text == value
        }
    }
}
