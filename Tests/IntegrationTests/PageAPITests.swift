import Foundation
import LabKit
import XCTest

/// The status page's API with the real daemon, a real mosquitto, the espeak-ng TTS plugin and the
/// log speaker, over raw HTTP to the admin listener on 127.0.0.1 (no token: a loopback bind):
/// the event stream replays the retained state and carries what MQTT subscribers get; requests
/// posted by the page go through the same intake (journal, limits, dedup) and are answered on the
/// same topics; hostile bodies get clear errors and cost nothing; a stream that never reads is cut
/// off without the daemon's memory growing; open streams do not hold up a stop. Also the `log`
/// request over MQTT.
final class PageAPITests: XCTestCase {
    private let logSpeakerID = "org.speakerbridge.example.log-speaker"

    private func post(_ admin: AdminEndpoint, _ body: [String: Any]) throws -> AdminEndpoint.Answer {
        try post(admin, raw: Array(try JSONSerialization.data(withJSONObject: body)))
    }

    private func post(_ admin: AdminEndpoint, raw: [UInt8], contentType: String = "application/json") throws -> AdminEndpoint.Answer {
        try admin.request("POST", "/api/request", headers: [("Content-Type", contentType)], body: raw)
    }

    private func errorText(_ answer: AdminEndpoint.Answer) -> String {
        let j = (try? JSONSerialization.jsonObject(with: Data(answer.body.utf8))) as? [String: Any]
        XCTAssertEqual(j?["status"] as? String, "error", answer.body)
        return j?["error"] as? String ?? ""
    }

    private func states(_ stream: EventStreamClient, id: String) -> [String] {
        stream.events.filter { $0.topic.hasSuffix("/bridge/event/announcement") && $0.payload?["id"] as? String == id }
            .compactMap { $0.payload?["state"] as? String }
    }

    /// Kitchen is there (its availability is retained) before a stream is opened.
    private func kitchenOnline(_ lab: PluginDaemon) throws {
        try lab.client.subscribe("\(lab.base)/+/availability")
        _ = try lab.client.waitFor("\(lab.base)/log-kitchen/availability", timeout: 20)
    }

    // MARK: one contract

    func testTheStreamReplaysTheStateAndCarriesAPostedAnnouncementAndAnswersLikeMQTT() throws {
        let lab = try PluginDaemon.speech()
        let admin = try AdminEndpoint.of(lab.daemon)
        try kitchenOnline(lab)

        let stream = try EventStreamClient(admin)
        XCTAssertEqual(stream.status, 200, stream.errorBody)
        XCTAssertEqual(stream.headers["content-type"], "text/event-stream; charset=utf-8")
        XCTAssertEqual(stream.headers["cache-control"], "no-store")
        XCTAssertEqual(stream.headers["x-accel-buffering"], "no")
        let replay = try stream.replay()
        let info = try XCTUnwrap(replay.first { $0.topic == "\(lab.base)/bridge/info" }, stream.summary)
        XCTAssertEqual(info.payload?["base_topic"] as? String, lab.base)
        XCTAssertEqual(info.json["retain"] as? Bool, true)
        XCTAssertEqual(replay.first { $0.topic == "\(lab.base)/bridge/state" }?.payload?["state"] as? String, "online")
        let availability = try XCTUnwrap(replay.first { $0.topic == "\(lab.base)/log-kitchen/availability" }, stream.summary)
        XCTAssertEqual(availability.payloadText, "online", "a payload that is not JSON comes as a JSON string")

        // Said through the page: the same events on the stream and at an MQTT subscriber.
        let say: [String: Any] = ["topic": "\(lab.base)/speak",
                                  "payload": ["id": "page-1", "text": "Hello from the page.", "speakers": ["Kitchen"]]]
        let accepted = try post(admin, say)
        XCTAssertEqual(accepted.status, 202, accepted.body)
        XCTAssertEqual(accepted.body.trimmingCharacters(in: .whitespacesAndNewlines), #"{"status":"accepted"}"#)
        try stream.waitFor(timeout: 30, "page-1 done") {
            $0.payload?["id"] as? String == "page-1" && $0.payload?["state"] as? String == "done"
        }
        XCTAssertEqual(states(stream, id: "page-1"), ["queued", "playing", "done"])
        XCTAssertEqual(try lab.waitForFinal(id: "page-1")["state"] as? String, "done")
        let overMQTT = lab.client.messages(on: lab.eventsTopic).map(json).filter { $0["id"] as? String == "page-1" }
        XCTAssertEqual(overMQTT.map { $0["state"] as? String ?? "" }, ["queued", "playing", "done"])

        // The same id again is taken as the same request: not played twice.
        XCTAssertEqual(try post(admin, say).status, 202)
        try lab.request("health")  // everything before it has been handled
        let plays = lab.log(lab.scratch.file("speakers.txt")).filter { $0.hasPrefix("play ") }
        XCTAssertEqual(plays.count, 1, "\(plays)")
        XCTAssertEqual(states(stream, id: "page-1"), ["queued", "playing", "done"])

        // A bridge request with a transaction is answered on the contract's topic, which the stream carries.
        let plugins = try post(admin, ["topic": "\(lab.base)/bridge/request/plugins", "payload": ["transaction": "page-plugins-1"]])
        XCTAssertEqual(plugins.status, 202, plugins.body)
        let answer = try stream.waitFor(timeout: 15, "the plugins answer") {
            $0.topic == "\(lab.base)/bridge/response/plugins" && $0.payload?["transaction"] as? String == "page-plugins-1"
        }
        XCTAssertEqual(answer.payload?["status"] as? String, "ok")
        let loaded = (answer.payload?["data"] as? [String: Any])?["loaded"] as? [[String: Any]] ?? []
        XCTAssertTrue(loaded.contains { $0["id"] as? String == logSpeakerID }, "\(loaded)")
        XCTAssertNotNil(try lab.client.waitFor("\(lab.base)/bridge/response/plugins") { json($0)["transaction"] as? String == "page-plugins-1" })

        // A page opened now replays the announcement with every event, then says ready.
        let later = try EventStreamClient(admin)
        let laterReplay = try later.replay()
        XCTAssertEqual(laterReplay.filter { $0.payload?["id"] as? String == "page-1" }.compactMap { $0.payload?["state"] as? String },
                       ["queued", "playing", "done"])
        XCTAssertEqual(later.events[laterReplay.count].data, "{}")
    }

    // MARK: hostile input

    func testHostileBodiesGetClearErrorsAndTheDaemonStillAnnounces() throws {
        let lab = try PluginDaemon.speech()
        let admin = try AdminEndpoint.of(lab.daemon)
        try kitchenOnline(lab)
        let stream = try EventStreamClient(admin)
        _ = try stream.replay()
        let base = lab.base

        let notJSON = try post(admin, raw: Array("say hello".utf8))
        XCTAssertEqual(notJSON.status, 400)
        XCTAssertTrue(errorText(notJSON).hasPrefix("the body is not valid JSON"), notJSON.body)

        let array = try post(admin, raw: Array("[1,2,3]".utf8))
        XCTAssertEqual(array.status, 400)
        XCTAssertTrue(errorText(array).hasPrefix("the body must be a JSON object, got an array"), array.body)

        let outside = try post(admin, ["topic": "elsewhere/speak", "payload": ["text": "hi"]])
        XCTAssertEqual(outside.status, 400)
        XCTAssertTrue(errorText(outside).hasPrefix("\"elsewhere/speak\" is not a request topic of this bridge"), outside.body)

        let state = try post(admin, ["topic": "\(base)/bridge/state", "payload": ["state": "offline"]])
        XCTAssertEqual(state.status, 400)
        XCTAssertTrue(errorText(state).contains("is not a request topic"), state.body)

        let noPayload = try post(admin, ["topic": "\(base)/speak"])
        XCTAssertEqual(noPayload.status, 400)
        XCTAssertTrue(errorText(noPayload).hasPrefix("payload is missing"), noPayload.body)

        let deep = Array((#"{"topic":"\#(base)/speak","payload":{"text":"hi","x":"# + String(repeating: "[", count: 300)
                          + String(repeating: "]", count: 300) + "}}").utf8)
        let deepAnswer = try post(admin, raw: deep)
        XCTAssertEqual(deepAnswer.status, 400)
        XCTAssertTrue(errorText(deepAnswer).hasPrefix("the body nests more than 64 levels deep"), deepAnswer.body)

        let form = try post(admin, raw: Array("topic=x".utf8), contentType: "application/x-www-form-urlencoded")
        XCTAssertTrue([403, 415].contains(form.status), "\(form.status) \(form.body)")

        let get = try admin.get("/api/request")
        XCTAssertEqual(get.status, 405)
        XCTAssertEqual(get.headers["allow"], "POST")
        let postEvents = try admin.request("POST", "/api/events", headers: [("Content-Type", "application/json")], body: Array("{}".utf8))
        XCTAssertEqual(postEvents.status, 405)
        XCTAssertEqual(postEvents.headers["allow"], "GET")

        // Larger than mqtt.max_payload (256 KiB) but within the body's allowance: refused by the
        // intake like the same message over MQTT, whose failed event both the stream and MQTT see.
        let big = try post(admin, ["topic": "\(base)/speak", "payload": ["id": "too-big", "text": String(repeating: "a", count: 263_000)]])
        XCTAssertEqual(big.status, 413, big.body)
        XCTAssertTrue(errorText(big).contains("mqtt.max_payload allows at most 262144 bytes"), big.body)
        let refused = try stream.waitFor(timeout: 10, "the refusal") { $0.payload?["id"] as? String == "too-big" }
        XCTAssertEqual(refused.payload?["state"] as? String, "failed")
        XCTAssertTrue((refused.payload?["reason"] as? String ?? "").contains("mqtt.max_payload"), refused.data)
        XCTAssertEqual(try lab.waitForFinal(id: "too-big")["state"] as? String, "failed")
        // Past the allowance the body is not even read.
        let huge = try post(admin, raw: Array(repeating: 0x20, count: 300 << 10))
        XCTAssertEqual(huge.status, 413)
        XCTAssertTrue(errorText(huge).hasPrefix("the body is larger than"), huge.body)

        // Nothing was lost: the page and MQTT still announce.
        XCTAssertEqual(try post(admin, ["topic": "\(base)/speak", "payload": ["id": "after-page", "text": "Still here."]]).status, 202)
        XCTAssertEqual(try lab.waitForFinal(id: "after-page")["state"] as? String, "done")
        try lab.announce(["id": "after-mqtt", "text": "Me too.", "speakers": ["Kitchen"]])
        XCTAssertEqual(try lab.waitForFinal(id: "after-mqtt")["state"] as? String, "done")
        try stream.waitFor(timeout: 10, "after-mqtt on the stream") {
            $0.payload?["id"] as? String == "after-mqtt" && $0.payload?["state"] as? String == "done"
        }
        XCTAssertEqual(try lab.health()["healthy"] as? Bool, true)
    }

    // MARK: slow subscribers

    /// The daemon's resident memory in KiB.
    private func residentKiB(_ lab: PluginDaemon) throws -> Int {
        let pid = try XCTUnwrap(lab.daemon.process.pid)
        let status = try String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)
        let line = try XCTUnwrap(status.split(separator: "\n").first { $0.hasPrefix("VmRSS:") })
        return try XCTUnwrap(Int(line.split(separator: " ", omittingEmptySubsequences: true)[1]))
    }

    func testAStreamThatNeverReadsIsCutOffWithoutTheDaemonGrowingAndOthersGoOn() throws {
        let lab = try PluginDaemon.speech()
        let admin = try AdminEndpoint.of(lab.daemon)
        try kitchenOnline(lab)
        let base = lab.base
        // A page beside it that keeps reading, on a thread of its own.
        let reader = try BackgroundStream(admin)

        // A page that sends its request and then never reads: the kernel's buffers fill (a few
        // MiB), then the stream's queue; past 1,000 messages it is cut off.
        let stuck = try LoopbackConnection(port: admin.port)
        stuck.shrinkReceiveBuffer(to: 4096)
        stuck.send("GET /api/events HTTP/1.1\r\nHost: 127.0.0.1:\(admin.port)\r\n\r\n")
        Thread.sleep(forTimeInterval: 0.5)  // its request is read and its stream subscribed

        let before = try residentKiB(lab)
        // Large answers first, to fill the kernel's buffers quickly: the journal request names an
        // unknown field in its error, 200 KB here.
        let bigKey = String(repeating: "k", count: 200_000)
        func flood(_ round: Int) throws {
            for i in 0..<40 {
                try lab.client.publish(topic: "\(base)/bridge/request/journal", payload: "{\"\(bigKey)\":1,\"transaction\":\"big-\(round)-\(i)\"}")
            }
            for i in 0..<1_500 {
                try lab.client.publish(topic: "\(base)/bridge/request/health", payload: "{\"transaction\":\"flood-\(round)-\(i)\"}")
            }
            try lab.client.waitForAcks(timeout: 60)
            try lab.client.waitFor("\(base)/bridge/response/health", timeout: 60) { json($0)["transaction"] as? String == "flood-\(round)-1499" }
        }
        try flood(1)
        XCTAssertTrue(waitUntil(timeout: 10) { lab.daemon.log().contains("an event stream fell too far behind") },
                      lab.daemon.log().split(separator: "\n").suffix(30).joined(separator: "\n"))
        let afterFirst = try residentKiB(lab)
        try flood(2)
        let afterSecond = try residentKiB(lab)
        let stream = try reader.stop(waitingFor: "flood-2-1499")
        // The reader that kept up saw every answer, in order.
        let answers = stream.events.filter { $0.topic == "\(base)/bridge/response/health" }.compactMap { $0.payload?["transaction"] as? String }
        XCTAssertEqual(answers.filter { $0.hasPrefix("flood-") }.count, 3_000)
        XCTAssertEqual(answers.filter { $0.hasPrefix("flood-1-") }, (0..<1_500).map { "flood-1-\($0)" })
        XCTAssertEqual(lab.daemon.count("an event stream fell too far behind"), 1, "logged once, for the one stream")
        // What the stuck stream held is bounded: its queue went with it, and a second flood adds nothing.
        print("RSS: before \(before) KiB, after one flood \(afterFirst) KiB, after two \(afterSecond) KiB")
        XCTAssertLessThan(afterFirst - before, 96 << 10, "RSS \(before) KiB -> \(afterFirst) KiB")
        XCTAssertLessThan(afterSecond - afterFirst, 32 << 10, "RSS \(afterFirst) KiB -> \(afterSecond) KiB after a second flood")

        // A new stream works.
        let fresh = try EventStreamClient(admin)
        XCTAssertNotNil(try fresh.replay().first { $0.topic == "\(base)/bridge/info" })
        XCTAssertEqual(try lab.health()["healthy"] as? Bool, true)
    }

    // MARK: the log request

    func testTheLogRequestAnswersTheWarningTheDaemonWroteAndChecksItsFields() throws {
        let lab = try PluginDaemon.speech()
        // Refused at intake (larger than mqtt.max_payload): logged at warning.
        try lab.announce(["id": "log-too-big", "text": String(repeating: "x", count: 300 << 10)])
        XCTAssertEqual(try lab.waitForFinal(id: "log-too-big")["state"] as? String, "failed")

        let warning = try lab.request("log", ["level": "warning"])
        XCTAssertEqual(warning["status"] as? String, "ok", "\(warning)")
        let data = try XCTUnwrap(warning["data"] as? [String: Any])
        XCTAssertEqual(data["level"] as? String, "warning")
        let lines = try XCTUnwrap(data["lines"] as? [[String: Any]])
        let refusal = try XCTUnwrap(lines.last { ($0["message"] as? String ?? "").contains("intake: refused a message on \(lab.base)/speak") }, "\(lines)")
        XCTAssertEqual(refusal["level"] as? String, "warning")
        XCTAssertEqual(refusal["label"] as? String, "speakerbridge")
        XCTAssertNotNil((refusal["at"] as? String).flatMap { try? Date.ISO8601FormatStyle(includingFractionalSeconds: true).parse($0) })
        XCTAssertTrue(lines.allSatisfy { ["warning", "error", "critical"].contains($0["level"] as? String ?? "") }, "\(lines)")

        let info = try lab.request("log", ["limit": 5])
        let infoLines = try XCTUnwrap((info["data"] as? [String: Any])?["lines"] as? [[String: Any]])
        XCTAssertEqual(infoLines.count, 5)
        XCTAssertTrue(infoLines.allSatisfy { ["info", "notice", "warning", "error", "critical"].contains($0["level"] as? String ?? "") },
                      "info is the default level: \(infoLines)")

        let badLevel = try lab.request("log", ["level": "loud"])
        XCTAssertEqual(badLevel["status"] as? String, "error")
        XCTAssertEqual(badLevel["error"] as? String, "unknown level \"loud\"; use one of trace, debug, info, notice, warning, error, critical")
        let badLimit = try lab.request("log", ["limit": 0])
        XCTAssertEqual(badLimit["error"] as? String, "limit must be a whole number from 1 to 200, got 0")
        XCTAssertEqual(try lab.request("log", ["limit": 500])["status"] as? String, "error")
    }

    // MARK: stopping

    func testSIGTERMWithTwoOpenStreamsAndAStuckOneStopsCleanlyWithinTenSeconds() throws {
        let lab = try PluginDaemon.speech()
        let admin = try AdminEndpoint.of(lab.daemon)
        let first = try EventStreamClient(admin)
        let second = try EventStreamClient(admin)
        _ = try first.replay()
        _ = try second.replay()
        // Quiet for longer than the admin listener's idle timeout (15 s): the keepalives hold it open.
        Thread.sleep(forTimeInterval: 16)
        first.poll()
        XCTAssertFalse(first.closed, "a quiet stream must outlive the idle timeout")
        XCTAssertGreaterThanOrEqual(first.comments.filter { $0 == "keepalive" }.count, 1, "\(first.comments)")

        // And one whose client stopped reading, its stream stuck in a write (6 MB of answers
        // are more than the kernel buffers for it): its idle timeout (15 s) must not hold the stop.
        let stuck = try LoopbackConnection(port: admin.port)
        stuck.shrinkReceiveBuffer(to: 4096)
        stuck.send("GET /api/events HTTP/1.1\r\nHost: 127.0.0.1:\(admin.port)\r\n\r\n")
        Thread.sleep(forTimeInterval: 0.5)
        let bigKey = String(repeating: "k", count: 200_000)
        for i in 0..<30 {
            try lab.client.publish(topic: "\(lab.base)/bridge/request/journal", payload: "{\"\(bigKey)\":1,\"transaction\":\"big-\(i)\"}")
        }
        try lab.client.waitFor("\(lab.base)/bridge/response/journal", timeout: 30) { json($0)["transaction"] as? String == "big-29" }
        for stream in [first, second] {
            try stream.waitFor(timeout: 30, "the last large answer") { $0.payload?["transaction"] as? String == "big-29" }
        }

        let start = Date()
        lab.daemon.process.terminate()
        XCTAssertTrue(first.waitForEnd(timeout: 10), "the first stream is still open")
        XCTAssertTrue(second.waitForEnd(timeout: 10), "the second stream is still open")
        XCTAssertEqual(lab.daemon.process.waitForExit(timeout: 10), 0, lab.daemon.log())
        let took = Date().timeIntervalSince(start)
        XCTAssertLessThan(took, 10, "the stop took \(took) s")
        print("stop with three open event streams, one stuck: \(String(format: "%.2f", took)) s")
        XCTAssertTrue(lab.daemon.log().contains("speakerbridge stopped"), lab.daemon.log())
    }
}

/// An event stream read on a thread of its own, as a browser tab reads it while the test floods
/// the daemon. The client is touched only by that thread until `stop` has joined it.
private final class BackgroundStream: @unchecked Sendable {
    private let client: EventStreamClient
    private let lock = NSLock()
    private var wanted: String?
    private var running = true
    private let finished = DispatchSemaphore(value: 0)

    init(_ admin: AdminEndpoint) throws {
        client = try EventStreamClient(admin)
        _ = try client.replay()
        Thread.detachNewThread { [self] in
            while lock.withLock({ running }) {
                client.poll(timeout: 0.1)
                if client.closed { break }
            }
            finished.signal()
        }
    }

    /// Reads on until a message carries `transaction` (or 60 s pass), then hands the client over.
    func stop(waitingFor transaction: String) throws -> EventStreamClient {
        lock.withLock { running = false }
        finished.wait()
        try client.waitFor(timeout: 60, "transaction \(transaction)") { $0.payload?["transaction"] as? String == transaction }
        return client
    }
}
