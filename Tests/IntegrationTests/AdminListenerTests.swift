import Foundation
import LabKit
import XCTest

/// The admin listener with the real daemon, a real mosquitto, the espeak-ng TTS plugin and the log
/// speaker: `/metrics` is valid Prometheus text whose numbers follow what the daemon does (an
/// announcement, a broker outage, a reload, a hung plugin call), `/healthz` says the `health`
/// request's verdict, the process metrics are plausible, and hostile clients are dropped while
/// `/metrics` keeps answering. All on 127.0.0.1.
final class AdminListenerTests: XCTestCase {
    private let logSpeakerID = "org.speakerbridge.example.log-speaker"

    private func metrics(_ admin: AdminEndpoint) throws -> PrometheusText {
        let answer = try admin.get("/metrics")
        XCTAssertEqual(answer.status, 200)
        XCTAssertEqual(answer.headers["content-type"], "text/plain; version=0.0.4; charset=utf-8")
        return try PrometheusText(answer.body)
    }

    /// The histogram's observation count (0 before the first).
    private func count(_ m: PrometheusText, _ histogram: String) -> Double { m.value(histogram + "_count") ?? 0 }

    // MARK: the numbers follow the daemon

    func testMetricsFollowAnAnnouncementAndABrokerOutageAndHealthzSaysWhy() throws {
        let lab = try PluginDaemon.speech(settings: DaemonUnderTest.fastReconnect)
        let admin = try AdminEndpoint.of(lab.daemon)

        // `online` can come before the plugins are loaded; the speaker counts once they are.
        var loaded: PrometheusText?
        XCTAssertTrue(waitUntil(timeout: 15, interval: 0.1) {
            loaded = try? self.metrics(admin)
            return loaded?.value("speakerbridge_speakers_up") == 1
        }, "speakerbridge_speakers_up never became 1 (the log speaker's Kitchen)")
        let before = try XCTUnwrap(loaded)
        XCTAssertEqual(before.types["speakerbridge_mqtt_connected"], "gauge")
        XCTAssertEqual(Set(before.types.keys).subtracting(before.helped), [], "every family has its HELP line")
        XCTAssertEqual(before.types["speakerbridge_announcements_total"], "counter")
        XCTAssertEqual(before.types["speakerbridge_synthesis_duration_seconds"], "histogram")
        XCTAssertEqual(before.value("speakerbridge_mqtt_connected"), 1)
        XCTAssertEqual(before.value("speakerbridge_journal_pending_requests"), 0)
        XCTAssertEqual(before.value("speakerbridge_journal_quarantined_requests"), 0)
        let doneBefore = try XCTUnwrap(before.value("speakerbridge_announcements_total", ["result": "done"]))
        let failedBefore = try XCTUnwrap(before.value("speakerbridge_announcements_total", ["result": "failed"]))

        try lab.announce(["id": "metrics-1", "text": "Counting this one.", "speakers": ["Kitchen"]])
        XCTAssertEqual(try lab.waitForFinal(id: "metrics-1")["state"] as? String, "done")
        // An unknown speaker is refused at once: failed +1, and no synthesis or announcement time.
        try lab.announce(["id": "metrics-2", "text": "Nobody hears this.", "speakers": ["Attic"]])
        XCTAssertEqual(try lab.waitForFinal(id: "metrics-2")["state"] as? String, "failed")

        // One refused at intake, before the journal and the router (larger than mqtt.max_payload): failed +1 too.
        try lab.announce(["id": "metrics-3", "text": String(repeating: "x", count: 300 << 10), "speakers": ["Kitchen"]])
        var after = try metrics(admin)
        XCTAssertTrue(waitUntil(timeout: 10) {
            after = (try? self.metrics(admin)) ?? after
            return after.value("speakerbridge_announcements_total", ["result": "failed"]) == failedBefore + 2
        }, "failed: \(after.value("speakerbridge_announcements_total", ["result": "failed"]) ?? -1), before \(failedBefore)")
        XCTAssertEqual(after.value("speakerbridge_announcements_total", ["result": "done"]), doneBefore + 1)
        XCTAssertEqual(after.value("speakerbridge_announcements_total", ["result": "failed"]), failedBefore + 2)
        XCTAssertEqual(count(after, "speakerbridge_synthesis_duration_seconds"), count(before, "speakerbridge_synthesis_duration_seconds") + 1)
        XCTAssertEqual(count(after, "speakerbridge_announcement_duration_seconds"), count(before, "speakerbridge_announcement_duration_seconds") + 1)
        XCTAssertGreaterThan(try XCTUnwrap(after.value("speakerbridge_announcement_duration_seconds_sum")), 0)

        let healthy = try admin.get("/healthz")
        XCTAssertEqual(healthy.status, 200, healthy.body)
        XCTAssertEqual(healthy.body, "healthy\n")

        // The broker goes away: connection state 0, a disconnect by its reason, 503 with the reason,
        // and the `health` request says the same.
        let lostBefore = after.series("speakerbridge_mqtt_disconnects_total").reduce(0) { $0 + $1.value }
        lab.broker.stop()
        var down: PrometheusText?
        XCTAssertTrue(waitUntil(timeout: 15, interval: 0.1) {
            down = try? self.metrics(admin)
            return down?.value("speakerbridge_mqtt_connected") == 0
        }, "speakerbridge_mqtt_connected never became 0")
        let lost = try XCTUnwrap(down).series("speakerbridge_mqtt_disconnects_total")
        XCTAssertGreaterThan(lost.reduce(0) { $0 + $1.value }, lostBefore, "\(lost)")
        XCTAssertTrue(lost.allSatisfy { $0.labels.keys.sorted() == ["reason"] && $0.labels["reason"]!.hasPrefix("MOSQ_ERR_") }, "\(lost)")
        let unhealthy = try admin.get("/healthz")
        XCTAssertEqual(unhealthy.status, 503)
        XCTAssertTrue(unhealthy.body.hasPrefix("unhealthy\n- not connected to the broker 127.0.0.1:\(lab.broker.port)"), unhealthy.body)

        try lab.broker.start()
        XCTAssertTrue(waitUntil(timeout: 20, interval: 0.1) { (try? admin.get("/healthz").status) == 200 }, "healthz never 200 again")
        let back = try metrics(admin)
        XCTAssertEqual(back.value("speakerbridge_mqtt_connected"), 1)
        XCTAssertGreaterThanOrEqual(try XCTUnwrap(back.value("speakerbridge_mqtt_reconnects_total")), 1)
        let health = try lab.health()
        XCTAssertEqual(health["healthy"] as? Bool, true)
        XCTAssertEqual(health["problems"] as? [String], [])
        XCTAssertEqual(Double(health["reconnects"] as? Int ?? -1), back.value("speakerbridge_mqtt_reconnects_total"),
                       "health and /metrics read the same total")
    }

    func testReloadsAndHungPluginCallsAreCounted() throws {
        let lab = try PluginDaemon(settings: ["plugins.call_timeout": "1"]) { dir, scratch in
            try PluginBuild.logSpeaker(to: dir + "/log-speaker.so")
            try writeJSON(["log": scratch + "/speakers.txt", "speakers": ["Kitchen"]], to: dir + "/log-speaker.json")
        }
        let admin = try AdminEndpoint.of(lab.daemon)
        let before = try metrics(admin)
        let reloads = { (m: PrometheusText) in m.value("speakerbridge_plugin_reloads_total", ["outcome": "reloaded"]) ?? 0 }
        let timeouts = { (m: PrometheusText) in
            m.value("speakerbridge_plugin_call_timeouts_total", ["plugin": self.logSpeakerID]) ?? 0
        }

        let reload = try lab.request("plugins/reload", ["id": logSpeakerID])
        XCTAssertEqual(reload["status"] as? String, "ok", "\(reload)")
        // Past plugins.call_timeout (1 s): the call is answered as hung, and counted.
        let slow = try lab.request("plugin/\(logSpeakerID)/sleep", ["ms": 1800])
        XCTAssertEqual(slow["status"] as? String, "error", "\(slow)")

        let after = try metrics(admin)
        XCTAssertEqual(reloads(after), reloads(before) + 1)
        XCTAssertEqual(timeouts(after), timeouts(before) + 1)
    }

    func testProcessMetricsArePlausible() throws {
        let (broker, daemon, _) = try runningDaemon()
        defer { broker.stop() }
        let admin = try AdminEndpoint.of(daemon)
        let m = try metrics(admin)
        let pid = try XCTUnwrap(daemon.process.pid)

        let resident = try XCTUnwrap(m.value("process_resident_memory_bytes"))
        XCTAssertGreaterThan(resident, Double(1 << 20), "a Swift daemon takes more than a MiB")
        XCTAssertLessThan(resident, Double(2 << 30))
        XCTAssertGreaterThanOrEqual(try XCTUnwrap(m.value("process_virtual_memory_bytes")), resident)
        let open = try XCTUnwrap(m.value("process_open_fds")), max = try XCTUnwrap(m.value("process_max_fds"))
        XCTAssertGreaterThan(open, 3)
        XCTAssertLessThanOrEqual(open, max)
        // The daemon's own count, next to ours from outside (a few may open or close in between).
        let seen = Double(try FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd").count)
        XCTAssertLessThan(abs(open - seen), 10, "process_open_fds \(open), /proc/\(pid)/fd \(seen)")
        let start = try XCTUnwrap(m.value("process_start_time_seconds"))
        let now = Date().timeIntervalSince1970
        XCTAssertLessThanOrEqual(start, now + 1)
        XCTAssertGreaterThan(start, now - 120, "the daemon started moments ago")
        let cpu = try XCTUnwrap(m.value("process_cpu_seconds_total"))
        XCTAssertGreaterThan(cpu, 0)
        XCTAssertLessThan(cpu, now - start + 1, "not more CPU than the time it has run on 2 cores… nor even 1")
        XCTAssertEqual(m.types["process_cpu_seconds_total"], "counter")
    }

    // MARK: the listener's edges

    func testUnknownPathsAre404AndOtherMethods405() throws {
        let (broker, daemon, _) = try runningDaemon()
        defer { broker.stop() }
        let admin = try AdminEndpoint.of(daemon)
        for path in ["/metric", "/metrics/", "/healthz/x", "/%2e%2e/metrics", "/media/x.wav", "/index.htm", "/assets"] {
            XCTAssertEqual(try admin.get(path).status, 404, path)
        }
        XCTAssertEqual(try admin.get("/metrics?debug=1").status, 200, "a query string is ignored")
        for method in ["POST", "PUT", "DELETE"] {
            let answer = try admin.request(method, "/metrics")
            XCTAssertEqual(answer.status, 405, method)
            XCTAssertEqual(answer.headers["allow"], "GET, HEAD")
        }
        let head = try admin.request("HEAD", "/healthz")
        XCTAssertEqual(head.status, 200)
        XCTAssertEqual(head.body, "")
    }

    func testSlowlorisAndOversizedRequestsAreDroppedWhileMetricsAnswer() throws {
        let (broker, daemon, _) = try runningDaemon()
        defer { broker.stop() }
        let admin = try AdminEndpoint.of(daemon)

        // An oversized head (64 KiB of header, the listener takes 8 KiB): closed without an answer
        // for it, or with a 4xx, never served.
        let big = try LoopbackConnection(port: admin.port)
        big.send("GET /metrics HTTP/1.1\r\nHost: x\r\nX-Filler: " + String(repeating: "a", count: 64 << 10) + "\r\n\r\n")
        let bigAnswer = big.readToEnd(timeout: 5)
        XCTAssertTrue(bigAnswer.closed, "the oversized request's connection was closed")
        let bigText = String(decoding: bigAnswer.bytes, as: UTF8.self)
        XCTAssertFalse(bigText.hasPrefix("HTTP/1.1 200"), bigText.prefix(200).description)

        // Slowloris: a request head trickled a byte at a time never completes; the listener closes
        // it after its 5 s header timeout, and answers /metrics promptly meanwhile.
        let slow = try (0..<4).map { _ in try LoopbackConnection(port: admin.port) }
        // And a request that announces a 1 GB body and keeps sending it: answered without reading it,
        // then the bytes that follow count as the next request's head, which never completes.
        let body = try LoopbackConnection(port: admin.port)
        body.send("GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 1000000000\r\n\r\n")
        let chunk = [UInt8](repeating: UInt8(ascii: "x"), count: 16 << 10)
        let started = Date()
        let trickle = "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: " + String(repeating: "s", count: 100)
        var closedAfter: Double?
        for byte in trickle.utf8 {
            var stillOpen = 0
            for connection in slow where connection.send([byte]) { stillOpen += 1 }
            body.send(chunk)
            if stillOpen == 0 { closedAfter = Date().timeIntervalSince(started); break }
            let t0 = Date()
            XCTAssertEqual(try admin.get("/metrics").status, 200)
            XCTAssertLessThan(Date().timeIntervalSince(t0), 2, "/metrics answers while the slowloris hang on")
            Thread.sleep(forTimeInterval: 0.5)
            if Date().timeIntervalSince(started) > 15 { break }
        }
        // A write to a connection the peer reset may still succeed once; reading says for sure.
        if closedAfter == nil {
            XCTAssertTrue(slow.allSatisfy { $0.readToEnd(timeout: 1).closed })
            closedAfter = Date().timeIntervalSince(started)
        }
        let bodyAnswer = body.readToEnd(timeout: 2)
        XCTAssertTrue(bodyAnswer.closed, "the endless body's connection was closed")
        XCTAssertTrue(String(decoding: bodyAnswer.bytes, as: UTF8.self).hasPrefix("HTTP/1.1 200"), "its request was answered first")
        let after = try XCTUnwrap(closedAfter)
        XCTAssertGreaterThanOrEqual(after, 4, "not before the header timeout")
        XCTAssertLessThan(after, 12, "closed by the header timeout (5 s)")
        XCTAssertEqual(try admin.get("/healthz").status, 200)
        XCTAssertTrue(daemon.process.isRunning)
    }

    func testATakenPortFailsTheStartNamingTheKeyAndAnEmptyBindTurnsItOff() throws {
        let broker = try MosquittoBroker()
        try broker.start()
        defer { broker.stop() }
        let first = try DaemonUnderTest(brokerPort: broker.port)
        try first.start()
        let taken = try AdminEndpoint.of(first).port

        let second = try DaemonUnderTest(brokerPort: broker.port, settings: ["admin.port": "\(taken)"])
        try second.start()
        let status = second.process.waitForExit(timeout: 20)
        XCTAssertNotNil(status, "the daemon did not stop")
        XCTAssertNotEqual(status, 0)
        XCTAssertTrue(second.log().contains("admin listener: cannot listen on 127.0.0.1:\(taken) (admin.bind, admin.port)"), second.log())
        XCTAssertTrue(second.log().contains("Address already in use"), second.log())
        // Before the session: a daemon that cannot serve its metrics never says `online`.
        XCTAssertFalse(second.log().contains("mqtt: connected to"), second.log())

        // `bind: ""` in the file (an empty flag or variable means "not set" to the loader).
        let dir = try TempDirectory(prefix: "sbadmin")
        defer { dir.remove() }
        try "admin:\n  bind: \"\"\n".write(toFile: dir.file("config.yaml"), atomically: true, encoding: .utf8)
        let off = DaemonProcess(arguments: ["run", "--config", dir.file("config.yaml"), "--broker", "127.0.0.1:\(broker.port)",
                                            "--state-dir", dir.file("state"), "--set", "base_topic=sbadminoff"],
                                logPath: dir.file("daemon.log"))
        try off.start()
        defer { off.terminate(); _ = off.waitForExit(timeout: 10) }
        try off.waitForLog(containing: "mqtt: connected to")
        try off.waitForLog(containing: "media server: listening")
        XCTAssertFalse(off.log().contains("admin: listening"), off.log())
        XCTAssertEqual(try AdminEndpoint(port: taken).get("/healthz").status, 200, "the first daemon's listener is unharmed")
    }

    // MARK: the strict reader itself

    func testTheStrictReaderRefusesWhatPrometheusWould() {
        let good = "# TYPE a_total counter\na_total{x=\"1\"} 3\n# TYPE h histogram\nh_bucket{le=\"1.0\"} 1\nh_bucket{le=\"+Inf\"} 2\nh_sum 1.5\nh_count 2\n"
        XCTAssertNoThrow(try PrometheusText(good))
        let bad = [
            "a 1",                                                            // no final newline
            "a one\n",                                                        // not a number
            "a inf\n",                                                        // Swift's word, not Prometheus'
            "1a 1\n",                                                         // bad name
            "a{x=1} 1\n",                                                     // unquoted label
            "a{x=\"\\t\"} 1\n",                                               // bad escape
            "a 1\na 2\n",                                                     // a series twice
            "a 1\n# TYPE a gauge\n",                                          // TYPE after samples
            "# HELP a x\n# HELP a y\na 1\n",                                  // HELP twice
            "# TYPE a gauge\n# TYPE a gauge\na 1\n",                          // TYPE twice
            "a 1\nb 1\na{x=\"y\"} 1\n",                                       // a family split
            "# TYPE c counter\nc -1\n",                                       // negative counter
            "# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_sum 1\nh_count 1\n", // no +Inf bucket
            "# TYPE h histogram\nh_bucket{le=\"1\"} 2\nh_bucket{le=\"+Inf\"} 1\nh_sum 1\nh_count 1\n", // counts go down
            "# TYPE h histogram\nh_bucket{le=\"+Inf\"} 2\nh_sum 1\nh_count 3\n", // count is not +Inf
        ]
        for text in bad {
            XCTAssertThrowsError(try PrometheusText(text), text.debugDescription)
        }
    }
}
