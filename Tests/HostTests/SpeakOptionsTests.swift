import Foundation
import Logging
import Synchronization
import XCTest

@testable import SpeakerbridgeHost

/// The speak request's `mode` and `only_when_playing`: parsed and refused like the other fields,
/// handed to the drivers on every clip, kept through the journal, and a skipped speaker reported
/// as skipped.
final class SpeakOptionsTests: AnnouncerTestCase {
    private func reason(_ json: String) -> String? {
        do { _ = try SpeakRequest.parse(Array(json.utf8), speakerFromTopic: nil); return nil } catch { return error.reason }
    }

    func testModeAndOnlyWhenPlayingAreParsedWithTheirDefaults() throws {
        let plain = try SpeakRequest.parse(Array(#"{"text":"hi"}"#.utf8), speakerFromTopic: nil)
        XCTAssertEqual(plain.mode, .parallel)
        XCTAssertFalse(plain.onlyWhenPlaying)
        let text = try SpeakRequest.parse(Array("hi".utf8), speakerFromTopic: "kitchen")
        XCTAssertEqual(text.mode, .parallel)
        XCTAssertFalse(text.onlyWhenPlaying)
        let set = try SpeakRequest.parse(Array(#"{"text":"hi","mode":"group","only_when_playing":true}"#.utf8), speakerFromTopic: nil)
        XCTAssertEqual(set.mode, .group)
        XCTAssertTrue(set.onlyWhenPlaying)
        let explicit = try SpeakRequest.parse(Array(#"{"text":"hi","mode":"parallel","only_when_playing":null}"#.utf8), speakerFromTopic: nil)
        XCTAssertEqual(explicit.mode, .parallel)
        XCTAssertFalse(explicit.onlyWhenPlaying)
    }

    func testBadModeAndOnlyWhenPlayingAreRefusedWithAReason() {
        XCTAssertEqual(reason(#"{"text":"a","mode":"sync"}"#), #"mode must be "parallel" or "group""#)
        XCTAssertEqual(reason(#"{"text":"a","mode":1}"#), #"mode must be "parallel" or "group""#)
        XCTAssertEqual(reason(#"{"text":"a","mode":"GROUP"}"#), #"mode must be "parallel" or "group""#)
        XCTAssertEqual(reason(#"{"text":"a","only_when_playing":"yes"}"#), "only_when_playing must be true or false")
        XCTAssertEqual(reason(#"{"text":"a","only_when_playing":1}"#), "only_when_playing must be true or false")
        XCTAssertTrue(reason(#"{"text":"a","onlyWhenPlaying":true}"#)!.contains("unknown field 'onlyWhenPlaying'"))
    }

    /// Group mode hands each clip the ids of its driver's speakers in the request's order (another
    /// driver's speakers are not in it); the request id travels as the announcement id; only the
    /// first clip (the chime here) asks to be played only when playing.
    func testClipsCarryTheAnnouncementIdTheGroupAndTheFlag() async throws {
        let seen = Mutex<[String: [SpeakerClip]]>([:])
        let backend = RecordingBackend(result: { clip, handle in
            seen.withLock { $0[handle.speaker.id, default: []].append(clip) }
            return .ok(.null)
        })
        let r = try await rig(["sonos": [speaker("a", "A"), speaker("b", "B")], "other": [speaker("c", "C")]], backend: backend)
        let seq = try XCTUnwrap(try r.spool.recordRequest(key: "speak:g", topic: "sb/speak", payload: Array("x".utf8),
                                                          responseTopic: nil, correlationData: nil))
        var request = SpeakRequest(id: "g", text: "hello", speakers: ["B", "C", "A"])
        request.mode = .group
        request.onlyWhenPlaying = true
        request.chime = "http://clips.invalid/ding.wav"
        _ = await r.announcer.accept(request, requestSeq: seq)
        let final = await r.final("g")
        XCTAssertEqual(final?["state"]?.stringValue, "done")
        let clips = seen.withLock { $0 }
        XCTAssertEqual(clips["a"]?.count, 2)
        XCTAssertEqual(clips["b"]?.map(\.group), [["b", "a"], ["b", "a"]])
        XCTAssertEqual(clips["a"]?.map(\.group), [["b", "a"], ["b", "a"]])
        XCTAssertEqual(clips["c"]?.map(\.group), [["c"], ["c"]])
        XCTAssertEqual(clips["a"]?.map(\.announcementID), ["g", "g"])
        XCTAssertEqual(clips["a"]?.map(\.onlyWhenPlaying), [true, false])

        // Parallel mode: no group.
        let seq2 = try XCTUnwrap(try r.spool.recordRequest(key: "speak:p", topic: "sb/speak", payload: Array("x".utf8),
                                                           responseTopic: nil, correlationData: nil))
        _ = await r.announcer.accept(SpeakRequest(id: "p", text: "hello", speakers: ["A"]), requestSeq: seq2)
        _ = await r.final("p")
        let parallel = seen.withLock { $0["a"]?.last }
        XCTAssertNil(parallel?.group)
        XCTAssertFalse(parallel?.onlyWhenPlaying ?? true)
        XCTAssertEqual(parallel?.announcementID, "p")
    }

    /// A driver that skipped a speaker (`{"skipped":…}`) leaves it out of the failures: the
    /// announcement is done, the result says skipped, and nothing more is played there.
    func testASkippedSpeakerIsReportedAsSkippedNotFailed() async throws {
        let backend = RecordingBackend(result: { clip, handle in
            handle.speaker.id == "idle" && clip.onlyWhenPlaying ? .ok(["skipped": "not playing"]) : .ok(.null)
        })
        let r = try await rig(["sonos": [speaker("idle", "Idle"), speaker("busy", "Busy")]], backend: backend)
        let seq = try XCTUnwrap(try r.spool.recordRequest(key: "speak:s", topic: "sb/speak", payload: Array("x".utf8),
                                                          responseTopic: nil, correlationData: nil))
        var request = SpeakRequest(id: "s", text: "hello", speakers: ["Idle", "Busy"])
        request.onlyWhenPlaying = true
        request.chime = "http://clips.invalid/ding.wav"
        _ = await r.announcer.accept(request, requestSeq: seq)
        let ended = await r.final("s")
        let final = try XCTUnwrap(ended)
        XCTAssertEqual(final["state"]?.stringValue, "done")
        XCTAssertNil(final["reason"])
        XCTAssertEqual(final["results"]?.objectValue?["Idle"]?.stringValue, "skipped: not playing")
        XCTAssertEqual(final["results"]?.objectValue?["Busy"]?.stringValue, "done")
        XCTAssertEqual(r.backend.plays.filter { $0.speaker == "idle" }.count, 1, "the speech is not played after a skipped chime")
        XCTAssertEqual(r.backend.plays.filter { $0.speaker == "busy" }.count, 2)
    }

    /// The journal keeps the payload as it came: a request replayed after a restart has its mode
    /// and only_when_playing again.
    func testTheNewFieldsSurviveAJournalReplay() async throws {
        let logger = Logger(label: "test")
        var spool = try Spool(directory: dir, durability: .process, maxOutbound: 1000, dedupWindow: 3600, logger: logger)
        let payload = Array(#"{"id":"j","text":"hi","mode":"group","only_when_playing":true}"#.utf8)
        let first = RecordingAnnouncer()
        var intake = RequestIntake(spool: spool, topics: topics, logger: logger)
        var task = Task { [spool, intake, topics] in
            try? await Router(spool: spool, intake: intake, topics: topics, handlers: [], announcer: first, logger: logger).run()
        }
        XCTAssertTrue(payload.withUnsafeBytes {
            intake.receive(topic: topics.speak, payload: $0, qos: 1, mid: 1, responseTopic: nil, correlationData: nil)
        })
        _ = await eventually { !first.requests.isEmpty }
        task.cancel()
        await task.value
        // Not finished by the announcer: a restart replays it from the journal.
        spool = try Spool(directory: dir, durability: .process, maxOutbound: 1000, dedupWindow: 3600, logger: logger)
        intake = RequestIntake(spool: spool, topics: topics, logger: logger)
        let second = RecordingAnnouncer()
        task = Task { [spool, intake, topics] in
            try? await Router(spool: spool, intake: intake, topics: topics, handlers: [], announcer: second, logger: logger).run()
        }
        _ = await eventually { !second.requests.isEmpty }
        task.cancel()
        await task.value
        let replayed = try XCTUnwrap(second.requests.first)
        XCTAssertEqual(replayed.id, "j")
        XCTAssertEqual(replayed.mode, .group)
        XCTAssertTrue(replayed.onlyWhenPlaying)
    }
}

/// Keeps every request it is handed and finishes none (as an announcement still playing).
private final class RecordingAnnouncer: Announcer {
    private let seen = Mutex<[SpeakRequest]>([])
    var requests: [SpeakRequest] { seen.withLock { $0 } }

    func accept(_ request: SpeakRequest, requestSeq: UInt64) async -> AnnouncementAcceptance {
        seen.withLock { $0.append(request) }
        return .pending([])
    }
}
