import Foundation
import LabKit
import XCTest

/// The media server under abuse, with the real daemon, espeak-ng and a speaker: a slowloris and
/// hundreds of idle connections are closed (header timeout, idle timeout, connection cap) while
/// clips keep being served, one address over its per-host share is refused while another is served, memory stays bounded, clients that never read cost no copy of a clip,
/// callback routes refuse a flood with 503, the server does not listen on 0.0.0.0 by default, and
/// clips of queued announcements are pinned (a full store fails the newest announcement with the
/// reason; the queued ones all play, after their clips' time to live).
///
/// Everything on 127.0.0.1, except the renderer lab test (root), which runs inside namespaces.
final class MediaServerLimitsTests: XCTestCase {
    let kib = 1024

    /// TTS plugin + log speaker "Kitchen"; the log speaker plays a clip for its duration.
    private func speechLab(settings: [String: String] = [:], clipTTL: Int? = nil, log: inout String) throws -> PluginDaemon {
        var path = ""
        let lab = try PluginDaemon(settings: ["media.bind": "127.0.0.1", "network.interface": "lo"].merging(settings) { $1 }) { dir, scratch in
            path = scratch + "/speakers.txt"
            try PluginBuild.ttsPlugin(to: dir + "/tts-espeak.so")
            var tts: [String: Any] = ["cache_dir": scratch + "/tts-cache"]
            if let clipTTL { tts["clip_ttl"] = clipTTL }
            try writeJSON(tts, to: dir + "/tts-espeak.json")
            try PluginBuild.logSpeaker(to: dir + "/log-speaker.so")
            try writeJSON(["log": path, "speakers": ["Kitchen"]], to: dir + "/log-speaker.json")
        }
        log = path
        return lab
    }

    private func say(_ lab: PluginDaemon, _ id: String, _ text: String) throws {
        try lab.client.publish(topic: "\(lab.base)/speak", payload: Array(try JSONSerialization.data(withJSONObject: [
            "id": id, "text": text, "speakers": ["Kitchen"]])), qos: 1)
    }

    private func final(_ lab: PluginDaemon, _ id: String, timeout: Double = 60) throws -> [String: Any] {
        json(try lab.client.waitFor("\(lab.base)/bridge/event/announcement", timeout: timeout) {
            json($0)["id"] as? String == id && ["done", "failed"].contains(json($0)["state"] as? String ?? "")
        })
    }

    /// The clip URL of the log speaker's `index`th play, once it has started.
    private func playedURL(_ lab: PluginDaemon, log: String, index: Int, timeout: Double = 30) throws -> String {
        var url: String?
        _ = waitUntil(timeout: timeout) {
            let lines = lab.log(log)
            if lines.count > index { url = String(lines[index].split(separator: " ")[2]) }
            return url != nil
        }
        return try XCTUnwrap(url, "play #\(index) in \(lab.log(log))")
    }

    /// GET as a speaker does: status, bytes received, Content-Length, seconds.
    /// `from`: the local address to connect from (another 127/8 address is another host to the server).
    private func fetch(_ url: String, from source: String? = nil) throws -> (status: Int, size: Int, length: Int, seconds: Double) {
        XCTAssertTrue(url.hasPrefix("http://127.0.0.1:"), "loopback only: \(url)")
        let r = try Shell.run(["curl", "-s", "--noproxy", "*", "-m", "10", "-o", "/dev/null"] + (source.map { ["--interface", $0] } ?? []) + [
                               "-w", "%{http_code} %{size_download} %{time_total} %header{content-length}", url])
        let f = r.out.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: " ")
        guard f.count >= 3 else { return (-1, 0, -1, 0) }
        return (Int(f[0]) ?? -1, Int(f[1]) ?? 0, f.count > 3 ? Int(f[3]) ?? -1 : -1, Double(f[2]) ?? 0)
    }

    private func mediaPort(_ lab: PluginDaemon) throws -> Int {
        try mediaPort(log: { lab.daemon.log() })
    }

    /// From the daemon's "media server: listening on HOST:PORT" line (it may come after `online`).
    private func mediaPort(log: () -> String) throws -> Int {
        var found: Substring?
        _ = waitUntil(timeout: 10) {
            found = log().split(separator: "\n").first { $0.contains("media server: listening on") }
            return found != nil
        }
        let line = try XCTUnwrap(found, log())
        return try XCTUnwrap(Int(line.split(separator: ":").last?.trimmingCharacters(in: .whitespaces) ?? ""))
    }

    // MARK: slowloris, idle connections, the cap

    func testSlowlorisAndFiveHundredIdleConnectionsAreClosedWhileClipsAreServed() throws {
        var log = ""
        // Every flood comes from 127.0.0.1: its per-host share is raised to the overall cap, which is
        // what this test is about (the per-host share has its own test below).
        let lab = try speechLab(settings: ["media.header_timeout": "3", "media.idle_timeout": "4",
                                           "media.max_connections": "600", "media.max_connections_per_host": "600"], log: &log)
        let port = try mediaPort(lab)
        let pid = try XCTUnwrap(lab.daemon.process.pid)
        // Warm up: one announcement played and its clip fetched, so the baseline includes a served clip.
        try say(lab, "warm", "The media server is warming up.")
        XCTAssertEqual(try final(lab, "warm")["state"] as? String, "done")
        XCTAssertEqual(try fetch(try playedURL(lab, log: log, index: 0)).status, 200)
        let before = try rssKiB(pid)

        // 500 connections that say nothing and 20 that send a header byte a second.
        let flood = try Flood(host: "127.0.0.1", port: port, idle: 500, slow: 20, seconds: 10, refusedWithin: 2)
        try flood.waitUntilOpen()
        // Meanwhile the speaker's announcements play and their clips are served, promptly and whole.
        for i in 1...3 {
            try say(lab, "during\(i)", "Announcement \(i) while the media server is under attack.")
            let url = try playedURL(lab, log: log, index: i)
            let got = try fetch(url)
            XCTAssertEqual(got.status, 200, url)
            XCTAssertEqual(got.size, got.length, "the whole clip")
            XCTAssertGreaterThan(got.size, 20 * kib)
            XCTAssertLessThan(got.seconds, 1, "served promptly")
            XCTAssertEqual(try final(lab, "during\(i)")["state"] as? String, "done")
        }
        let result = try flood.finish()
        print("flood: \(result)")
        let idle = try XCTUnwrap(result["idle"]), slow = try XCTUnwrap(result["slow"])
        XCTAssertEqual(idle.closed, 500, "every idle connection was closed")
        XCTAssertEqual(slow.closed, 20, "every slowloris was closed")
        XCTAssertEqual(idle.atOnce + slow.atOnce, 0, "under the cap nobody is refused at once")
        // media.header_timeout is 3 s: a request head must be complete by then, trickle or not.
        XCTAssertGreaterThanOrEqual(slow.firstClosed, 2.5)
        XCTAssertLessThan(slow.lastClosed, 5.5)
        XCTAssertLessThan(idle.lastClosed, 5.5)

        // Over the cap: 700 more with 600 allowed; the rest are closed at once, counted and logged.
        let burst = try Flood(host: "127.0.0.1", port: port, idle: 700, slow: 0, seconds: 8, refusedWithin: 2)
        try burst.waitUntilOpen()
        let capped = try XCTUnwrap(try burst.finish()["idle"])
        print("burst: \(capped)")
        XCTAssertEqual(capped.closed, 700)
        XCTAssertGreaterThanOrEqual(capped.atOnce, 95, "about 100 over media.max_connections were closed at once")
        XCTAssertLessThanOrEqual(capped.atOnce, 105)
        XCTAssertTrue(lab.daemon.log().contains("connections are open (media.max_connections); closed"), lab.daemon.log())

        // Nothing else was lost: a new announcement plays and its clip is served.
        try say(lab, "after", "The attack is over.")
        XCTAssertEqual(try fetch(try playedURL(lab, log: log, index: 4)).status, 200)
        XCTAssertEqual(try final(lab, "after")["state"] as? String, "done")
        let after = try rssKiB(pid)
        print("daemon VmRSS \(before) KiB before 1,220 connections, \(after) KiB after")
        XCTAssertLessThan(after - before, 40 * 1024, "memory stays bounded (VmRSS grew \(after - before) KiB)")
        XCTAssertEqual(try lab.request("health")["status"] as? String, "ok")
    }

    func testOneAddressOverItsShareIsRefusedWhileAnotherIsServed() throws {
        var log = ""
        let lab = try speechLab(settings: ["media.max_connections_per_host": "20", "media.header_timeout": "4"], log: &log)
        let port = try mediaPort(lab)
        try say(lab, "beside", "Another host is holding its share of connections.")
        let url = try playedURL(lab, log: log, index: 0)
        // 60 silent connections from 127.0.0.1: 20 are its share, 40 are closed at once.
        let flood = try Flood(host: "127.0.0.1", port: port, idle: 60, slow: 0, seconds: 8, source: "127.0.0.1", refusedWithin: 3)
        try flood.waitUntilOpen()
        // While it holds its share, 127.0.0.1 gets nothing more (curl: no reply, status 000)...
        XCTAssertEqual(try fetch(url, from: "127.0.0.1").status, 0, "the flooding address is over its share")
        // ...and another address (127.0.0.2, to the same 127.0.0.1 listener) is served the whole clip.
        let got = try fetch(url, from: "127.0.0.2")
        XCTAssertEqual(got.status, 200, url)
        XCTAssertEqual(got.size, got.length, "the whole clip")
        XCTAssertGreaterThan(got.size, 20 * kib)
        let idle = try XCTUnwrap(try flood.finish()["idle"])
        print("one host over its share: \(idle)")
        XCTAssertEqual(idle.closed, 60)
        XCTAssertEqual(idle.atOnce, 40, "the 40 past media.max_connections_per_host were closed at once")
        XCTAssertGreaterThanOrEqual(idle.lastClosed, 3.5, "its 20 were kept until the header timeout")
        XCTAssertTrue(lab.daemon.log().contains("127.0.0.1 holds 20 connections (media.max_connections_per_host); closed"), lab.daemon.log())
        // Nothing else was lost: the announcement ended well, and 127.0.0.1 is served again.
        XCTAssertEqual(try final(lab, "beside")["state"] as? String, "done")
        XCTAssertEqual(try fetch(url, from: "127.0.0.1").status, 200)
    }

    func testClientsThatNeverReadALargeClipCostNoCopyOfIt() throws {
        var log = ""
        // 40 readers from one address: above the default per-host share of 32.
        let lab = try speechLab(settings: ["media.idle_timeout": "3", "media.max_connections_per_host": "64"], log: &log)
        let port = try mediaPort(lab)
        let pid = try XCTUnwrap(lab.daemon.process.pid)
        // About 1 MB of speech (16-bit mono 22,050 Hz: 44 KB a second).
        let text = String(repeating: "This sentence makes the clip long enough to weigh about a megabyte. ", count: 7)
        try say(lab, "big", text)
        let url = try playedURL(lab, log: log, index: 0)
        let whole = try fetch(url)
        XCTAssertEqual(whole.status, 200)
        XCTAssertGreaterThan(whole.size, 900 * kib, "a clip of about 1 MB")
        let path = String(url[url.range(of: "/media/")!.lowerBound...])
        let before = try rssKiB(pid)
        // 40 clients ask for it and never read. A copy per request would park 40 MB in the daemon.
        let stall = try Flood(host: "127.0.0.1", port: port, idle: 0, slow: 0, stalled: 40, path: path, seconds: 8, refusedWithin: 2)
        try stall.waitUntilOpen()
        Thread.sleep(forTimeInterval: 1.5)  // the responses are under way (and stuck): measure now
        let during = try rssKiB(pid)
        let stalled = try XCTUnwrap(try stall.finish()["stalled"])
        print("stalled readers: \(stalled); daemon VmRSS \(before) KiB before, \(during) KiB while 40 readers of a \(whole.size) B clip stalled")
        XCTAssertLessThan(during - before, 12 * 1024, "no clip copy per request (VmRSS grew \(during - before) KiB)")
        XCTAssertEqual(stalled.closed, 40, "media.idle_timeout closed the readers that stopped reading")
        XCTAssertGreaterThanOrEqual(stalled.firstClosed, 2.5)
        XCTAssertEqual(try fetch(url).status, 200, "and the clip is still served")
    }

    // MARK: callback routes

    func testCallbackRoutesPastTheirCapAreAnswered503AtOnce() throws {
        let probeID = "org.speakerbridge.test.udp-routes-probe"
        let lab = try PluginDaemon(settings: ["network.interface": "lo", "media.bind": "127.0.0.1",
                                              "media.max_callback_requests": "2"]) { dir, _ in
            try PluginBuild.fixture("udp_routes_probe", to: dir + "/udp-routes-probe.so")
        }
        let added = try XCTUnwrap(try lab.request("plugin/\(probeID)/route_add", ["path": "gena"])["data"] as? [String: Any])
        let url = try XCTUnwrap(added["url"] as? String)
        XCTAssertTrue(url.hasPrefix("http://127.0.0.1:"), url)
        // The plugin takes 1.5 s per NOTIFY; 8 arrive at once, 2 may be handled at a time.
        _ = try lab.request("plugin/\(probeID)/route_answer", ["status": 200, "delay_ms": 1500])
        // Eight curl processes started together (not a thread pool: two cores would run two at a time).
        let start = Date()
        let runs: [(Process, Pipe)] = try (0..<8).map { _ in
            let process = Process(), out = Pipe(), input = Pipe()
            process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            process.arguments = ["curl", "-s", "--noproxy", "*", "-m", "15", "-o", "/dev/null", "-w", "%{http_code} %{time_total}",
                                 "-X", "NOTIFY", "-H", "Expect:", "--data-binary", "<e:propertyset/>", url]
            process.standardOutput = out
            process.standardInput = input
            try process.run()
            return (process, out)
        }
        let all: [(status: Int, seconds: Double)] = runs.map { process, out in
            process.waitUntilExit()
            let parts = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self).split(separator: " ")
            return (Int(parts.first ?? "") ?? -1, Double(parts.last ?? "") ?? -1)
        }
        print("NOTIFY flood: \(all) in \(Date().timeIntervalSince(start)) s")
        let refused = all.filter { $0.status == 503 }, served = all.filter { $0.status == 200 }
        XCTAssertEqual(refused.count + served.count, 8, "\(all)")
        XCTAssertGreaterThanOrEqual(refused.count, 4, "past media.max_callback_requests: 503")
        XCTAssertGreaterThanOrEqual(served.count, 2)
        XCTAssertTrue(refused.allSatisfy { $0.seconds < 1 }, "503 at once, not after waiting: \(refused)")
        // Nothing else was lost: the route answers the next NOTIFY.
        _ = try lab.request("plugin/\(probeID)/route_answer", ["status": 200, "delay_ms": 0])
        let next = try Shell.run(["curl", "-s", "--noproxy", "*", "-m", "10", "-o", "/dev/null", "-w", "%{http_code}",
                                  "-X", "NOTIFY", "-H", "Expect:", "--data-binary", "@-", url], input: "<e:propertyset/>")
        XCTAssertEqual(next.out, "200")
    }

    // MARK: default bind

    func testTheDefaultBindIsTheInterfaceAndLoopbackNeverTheWildcard() throws {
        // network.interface=lo: the interface's address is 127.0.0.1 itself (on the host, tests
        // stay on loopback); the lab test below checks a real interface address beside 127.0.0.1.
        let lab = try PluginDaemon(settings: ["network.interface": "lo"]) { _, _ in }
        let port = try mediaPort(lab)
        let pid = try XCTUnwrap(lab.daemon.process.pid)
        let listening = try listeners(port: port, netnsOf: pid)
        XCTAssertEqual(listening, ["127.0.0.1"], "media.bind \"\" with network.interface=lo")
        // An explicit media.bind is honoured, the wildcard included.
        let wild = try PluginDaemon(settings: ["network.interface": "lo", "media.bind": "0.0.0.0"]) { _, _ in }
        XCTAssertEqual(try listeners(port: try mediaPort(wild), netnsOf: try XCTUnwrap(wild.daemon.process.pid)), ["0.0.0.0"])
    }

    // MARK: pinned clips

    func testQueuedClipsArePinnedAndAFullStoreFailsTheNewestWithTheReason() throws {
        var log = ""
        // 1 MiB of clips at most, and clips that expire after 2 s unless pinned.
        let lab = try speechLab(settings: ["media.max_bytes": "1048576"], clipTTL: 2, log: &log)
        // About 12 s of speech (~530 KB) keeps the speaker busy while the rest queue behind it.
        try say(lab, "long", String(repeating: "A long announcement keeps the kitchen speaker busy. ", count: 5))
        _ = try lab.client.waitFor("\(lab.base)/bridge/event/announcement", timeout: 20) {
            json($0)["id"] as? String == "long" && json($0)["state"] as? String == "playing"
        }
        // Eight more of about 4 s (~180 KB) each: only some fit beside the long one.
        let queued = (1...8).map { "q\($0)" }
        for (i, id) in queued.enumerated() {
            try say(lab, id, "Queued announcement number \(i + 1) waits for its turn in the kitchen.")
        }
        // Fetch each clip the moment the speaker starts it, as a speaker would.
        var outcomes: [String: [String: Any]] = [:]
        var fetchedWhilePlaying: [Int] = []
        let all = ["long"] + queued
        let finished = waitUntil(timeout: 120) {
            for url in lab.log(log).dropFirst(fetchedWhilePlaying.count).map({ String($0.split(separator: " ")[2]) }) {
                fetchedWhilePlaying.append((try? self.fetch(url).status) ?? -1)
            }
            for m in lab.client.messages(on: "\(lab.base)/bridge/event/announcement") {
                let j = json(m)
                if let id = j["id"] as? String, all.contains(id), ["done", "failed"].contains(j["state"] as? String ?? "") {
                    outcomes[id] = j
                }
            }
            return outcomes.count == all.count && fetchedWhilePlaying.count == lab.log(log).count
        }
        XCTAssertTrue(finished, "all ended: \(outcomes.keys.sorted())")
        let failed = outcomes.filter { $0.value["state"] as? String == "failed" }
        let done = outcomes.filter { $0.value["state"] as? String == "done" }
        print("pinned store: done \(done.keys.sorted()), failed \(failed.mapValues { $0["reason"] ?? "" })")
        XCTAssertEqual(done.count + failed.count, 9, "every announcement ended")
        XCTAssertFalse(failed.isEmpty, "the store's bound was reached")
        XCTAssertGreaterThanOrEqual(done.count, 3, "the long one and some queued ones fit")
        XCTAssertNotNil(done["long"])
        for (id, event) in failed {
            let reason = event["reason"] as? String ?? ""
            XCTAssertTrue(reason.contains("the media store is full"), "\(id): \(reason)")
            XCTAssertTrue(reason.contains("wait for queued announcements"), "\(id): \(reason)")
            XCTAssertTrue(reason.contains("media.max_bytes"), "\(id): \(reason)")
        }
        // The ones that fit all played, long after their clips' 2 s time to live, and each clip
        // was still served when its turn came.
        XCTAssertEqual(lab.log(log).count, done.count, "\(lab.log(log))")
        XCTAssertEqual(fetchedWhilePlaying.count, done.count)
        XCTAssertEqual(fetchedWhilePlaying.filter { $0 != 200 }, [], "a queued clip expired or was evicted: \(fetchedWhilePlaying)")

        // Nothing is stuck: with the queue drained the store has room again.
        try say(lab, "later", "The queue has drained.")
        XCTAssertEqual(try final(lab, "later")["state"] as? String, "done")
    }

    // MARK: the real speaker (root)

    func testARealSpeakerKeepsPlayingDuringAFloodInTheRendererLab() throws {
        try requireRoot("media server limits in the renderer lab")
        if let reason = RendererLab.unavailableReason {
            print("SKIPPED media server limits in the renderer lab: \(reason)")
            throw XCTSkip(reason)
        }
        let lab = try RendererDriverTests.DriverLab(renderers: ["Kitchen"])
        XCTAssertTrue(lab.online("kitchen"), "kitchen online:\n\(lab.daemon.log())")
        let port = try mediaPort(log: { lab.daemon.log() })
        // The default bind in the lab: the lab interface's address and 127.0.0.1, not the wildcard.
        let pid = try XCTUnwrap(lab.daemon.process.pid)
        XCTAssertEqual(try listeners(port: port, netnsOf: pid), [lab.host.address, "127.0.0.1"].sorted())
        let before = try rssKiB(pid)

        // The flood comes from the daemon's own namespace host, at the address speakers use. The lab
        // daemon has the defaults: media.max_connections 256, media.max_connections_per_host 32. The
        // flooding host gets its 32 (the 20 slowloris, opened first, and 12 idle); the other 188 are
        // closed at once, and the speaker, another host, is not locked out.
        let flood = try Flood(host: lab.host.address, port: port, idle: 200, slow: 20, seconds: 25, netns: lab.host.name, refusedWithin: 5)
        try flood.waitUntilOpen()
        let kitchen = lab.speakers.renderers[0]
        let text = "The washing machine has finished. Please empty it."
        let start = kitchen.recording.mark()
        let outcome = try lab.say("flooded", text, to: "kitchen")
        XCTAssertEqual(outcome?["state"] as? String, "done", "\(outcome ?? [:])\n\(lab.daemon.log())")
        let words = try kitchen.recording.stats(from: start)
        let reference = lab.plugins.file("reference.wav")
        try Shell.runChecked(["espeak-ng", "-w", reference, text])
        let own = try AudioStats.of(file: reference)
        XCTAssertEqual(words.audibleSeconds, own.audibleSeconds, accuracy: 0.4, "all the words reached the speaker: \(words)")
        let result = try flood.finish()
        print("lab flood: \(result)")
        XCTAssertEqual(result["idle"]?.closed, 200)
        XCTAssertEqual(result["slow"]?.closed, 20)
        XCTAssertEqual(result["slow"]?.atOnce, 0, "the slowloris fit in the host's share")
        XCTAssertEqual(result["idle"]?.atOnce, 188, "past media.max_connections_per_host: closed at once")
        XCTAssertLessThan(result["slow"]?.lastClosed ?? 99, 13, "media.header_timeout (10 s) closed the slowloris")
        let after = try rssKiB(pid)
        print("lab daemon VmRSS \(before) KiB before, \(after) KiB after")
        XCTAssertLessThan(after - before, 40 * 1024, "memory stays bounded")
    }

    // MARK: helpers

    private func rssKiB(_ pid: Int32) throws -> Int {
        let status = try String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)
        let line = try XCTUnwrap(status.split(separator: "\n").first { $0.hasPrefix("VmRSS:") })
        return try XCTUnwrap(Int(line.split(separator: " ", omittingEmptySubsequences: true)[1]))
    }

    /// Local addresses with a listening TCP socket on `port`, from /proc/<pid>/net/tcp (that
    /// process's network namespace), sorted.
    private func listeners(port: Int, netnsOf pid: Int32) throws -> [String] {
        let table = try String(contentsOfFile: "/proc/\(pid)/net/tcp", encoding: .utf8)
        var found: [String] = []
        for line in table.split(separator: "\n").dropFirst() {
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            guard fields.count > 3, fields[3] == "0A" else { continue }  // 0A: LISTEN
            let local = fields[1].split(separator: ":")
            guard local.count == 2, Int(local[1], radix: 16) == port, let raw = UInt32(local[0], radix: 16) else { continue }
            // The address is in network byte order, printed as a little-endian number.
            found.append("\(raw & 0xff).\((raw >> 8) & 0xff).\((raw >> 16) & 0xff).\(raw >> 24)")
        }
        return found.sorted()
    }
}

/// Abusive clients in a python3 process (inside a namespace when given): `idle` connections that
/// say nothing, `slow` ones sending one header byte a second, `stalled` ones that ask for `path`
/// and never read. It records when the server closed each one.
final class Flood {
    struct Kind: CustomStringConvertible {
        var opened = 0
        var closed = 0
        /// Closed sooner than `refusedWithin` after connecting: refused over the cap.
        var atOnce = 0
        var firstClosed = 0.0
        var lastClosed = 0.0
        var description: String { "opened \(opened), closed \(closed) (\(atOnce) at once) between \(firstClosed) and \(lastClosed) s" }
    }

    let process = Process()
    let directory: TempDirectory

    /// `source`: the local address the connections come from ("": the kernel's choice).
    /// `refusedWithin`: a connection the server closes sooner than this after it connected was
    /// refused over a cap (`atOnce`). Keep it below the server's header timeout, so a timeout is
    /// never counted as a refusal, and well above 0: the kernel completes a connect before the
    /// server accepts it, and a loaded server accepts (and refuses) seconds later, not at once.
    init(host: String, port: Int, idle: Int, slow: Int, stalled: Int = 0, path: String = "/", seconds: Double,
         netns: String? = nil, source: String = "", refusedWithin: Double) throws {
        precondition(netns != nil || (host.hasPrefix("127.") && (source.isEmpty || source.hasPrefix("127."))),
                     "outside a lab namespace only loopback")
        directory = try TempDirectory(prefix: "sbflood")
        let script = directory.file("flood.py")
        try Self.script.write(toFile: script, atomically: true, encoding: .utf8)
        let args = ["python3", script, host, "\(port)", "\(idle)", "\(slow)", "\(stalled)", path, "\(seconds)", directory.path, source,
                    "\(refusedWithin)"]
        process.executableURL = URL(fileURLWithPath: netns == nil ? "/usr/bin/env" : "/usr/sbin/ip")
        process.arguments = netns.map { ["netns", "exec", $0] + args } ?? args
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle(forWritingAtPath: "/dev/stderr")
        try process.run()
    }

    deinit { if process.isRunning { process.terminate() } }

    func waitUntilOpen(timeout: Double = 30) throws {
        guard waitUntil(timeout: timeout, { FileManager.default.fileExists(atPath: self.directory.file("open")) }) else {
            throw LabError("the flood did not open its connections in \(timeout) s")
        }
    }

    /// Waits for the script to end (all closed, or its time is up) and returns its counts by kind.
    func finish() throws -> [String: Kind] {
        process.waitUntilExit()
        let data = try Data(contentsOf: URL(fileURLWithPath: directory.file("result.json")))
        let object = try XCTUnwrap(try JSONSerialization.jsonObject(with: data) as? [String: [String: Any]])
        return object.mapValues { k in
            Kind(opened: k["opened"] as? Int ?? 0, closed: k["closed"] as? Int ?? 0, atOnce: k["at_once"] as? Int ?? 0,
                 firstClosed: k["first"] as? Double ?? 0, lastClosed: k["last"] as? Double ?? 0)
        }
    }

    static let script = #"""
import json, os, selectors, socket, sys, time
host, port, n_idle, n_slow, n_stalled, path, duration, out = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), sys.argv[6], float(sys.argv[7]), sys.argv[8]
source = sys.argv[9]
refused_within = float(sys.argv[10])
sel = selectors.DefaultSelector()
conns = {}
def open_one(kind):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if kind == "stalled":
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    if source:
        s.bind((source, 0))
    s.connect((host, port))
    s.setblocking(False)
    conns[s] = {"kind": kind, "opened": time.monotonic(), "closed": None, "sent": 0}
    if kind == "stalled":
        s.send(("GET %s HTTP/1.1\r\nHost: %s\r\n\r\n" % (path, host)).encode())
    else:
        sel.register(s, selectors.EVENT_READ)
def closed(s):
    c = conns[s]
    if c["closed"] is None:
        c["closed"] = time.monotonic() - c["opened"]
        if c["kind"] != "stalled":
            sel.unregister(s)
def poll(timeout):
    if sel.get_map():
        events = sel.select(timeout=timeout)
    else:
        events = []
        time.sleep(timeout)
    for key, _ in events:
        try:
            data = key.fileobj.recv(65536)
        except OSError:
            data = b""
        if not data:
            closed(key.fileobj)
# Slowloris first: a flood from one host fills its per-host share with them before the idle ones.
# The server counts a connection on the event loop that took it (two loops on two cores), so
# connections made back to back may be counted out of order: a pause between kinds lets the
# server count one kind before the next arrives (none after the last: a connection closed at once
# must be seen at once).
previous = 0
for kind, n in (("slow", n_slow), ("idle", n_idle), ("stalled", n_stalled)):
    if previous and n:
        pause_end = time.monotonic() + 0.5
        while time.monotonic() < pause_end:
            poll(0.01)
    for _ in range(n):
        open_one(kind)
        # Closes are seen while the others are still being opened, not only once all are open:
        # on a loaded machine opening hundreds can take longer than refused_within.
        poll(0)
    previous += n
open(os.path.join(out, "open"), "w").close()
start = time.monotonic()
head = b"GET /media/AAAAAAAAAAAAAAAAAAAAAA.wav HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 4000
next_byte = start + 1
while time.monotonic() - start < duration and any(c["closed"] is None for c in conns.values()):
    poll(0.05)
    # A client that never reads only learns of the close by peeking at the socket's error state.
    for s, c in conns.items():
        if c["kind"] == "stalled" and c["closed"] is None:
            err = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            try:
                state = s.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 1)[0]
            except OSError:
                state = 7
            # TCP_CLOSE_WAIT (8): the server sent FIN; CLOSE (7): reset.
            if err or state in (7, 8):
                closed(s)
    if time.monotonic() >= next_byte:
        next_byte += 1
        for s, c in conns.items():
            if c["kind"] == "slow" and c["closed"] is None:
                try:
                    s.send(head[c["sent"]:c["sent"] + 1])
                    c["sent"] += 1
                except OSError:
                    closed(s)
result = {}
for kind in ("idle", "slow", "stalled"):
    cs = [c for c in conns.values() if c["kind"] == kind]
    times = [c["closed"] for c in cs if c["closed"] is not None]
    result[kind] = {"opened": len(cs), "closed": len(times), "at_once": sum(1 for t in times if t < refused_within),
                    "first": min(times) if times else 0.0, "last": max(times) if times else 0.0}
with open(os.path.join(out, "result.json"), "w") as f:
    json.dump(result, f)
for s in conns:
    s.close()
"""#
}
