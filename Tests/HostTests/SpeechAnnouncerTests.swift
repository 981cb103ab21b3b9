import Foundation
import Logging
import XCTest

@testable import SpeakerbridgeHost

/// The announcement state machine: queued → playing → done | failed, with the reasons people read.
final class SpeechAnnouncerTests: AnnouncerTestCase {
    let kitchen = speaker("uuid-k", "Kitchen")
    let office = speaker("uuid-o", "Office")

    func testAnAnnouncementIsQueuedPlayedAndDoneOnEverySpeaker() async throws {
        let r = try await rig(["log": [kitchen, office]])
        let acceptance = try await r.say("a1", "Hello", to: ["all"])
        XCTAssertFalse(acceptance.finished, "the journal keeps it until every speaker is done")
        let ended = await r.final("a1")
        let final = try XCTUnwrap(ended)
        XCTAssertEqual(final["state"], "done")
        XCTAssertEqual(final["results"], ["Kitchen": "done", "Office": "done"])
        XCTAssertEqual(r.states(of: "a1").first, "queued")
        XCTAssertEqual(r.states(of: "a1").filter { $0 == "playing" }.count, 2)
        XCTAssertEqual(Set(r.backend.plays.map(\.speaker)), ["uuid-k", "uuid-o"])
        XCTAssertEqual(Set(r.backend.plays.map(\.url)), ["http://clips.invalid/Hello.wav"])
        XCTAssertEqual(r.spool.pendingCount, 0, "marked done in the journal with its final event")
    }

    func testFailuresEndTheAnnouncementWithTheirReason() async throws {
        let silent = RecordingBackend(synthesis: { _ in .error("no voice") })
        let r = try await rig(["log": [kitchen]], backend: silent)
        _ = try await r.say("s1", "Hello")
        let ended = await r.final("s1")
        let final = try XCTUnwrap(ended)
        XCTAssertEqual(final["reason"], "Kitchen: speech synthesis failed: no voice")
        XCTAssertEqual(r.states(of: "s1"), ["queued", "failed"], "nothing plays without speech")
        XCTAssertTrue(silent.plays.isEmpty)
    }

    func testOneSpeakersFailureIsNamedAndTheOthersStillPlay() async throws {
        let backend = RecordingBackend(result: { _, s in s.speaker.id == "uuid-o" ? .error("unreachable") : .ok(.null) })
        let r = try await rig(["log": [kitchen, office]], backend: backend)
        _ = try await r.say("p1", "Hello", to: ["Kitchen", "Office"])
        let ended = await r.final("p1")
        let final = try XCTUnwrap(ended)
        XCTAssertEqual(final["state"], "failed")
        XCTAssertEqual(final["reason"], "Office: unreachable")
        XCTAssertEqual(final["results"], ["Kitchen": "done", "Office": "unreachable"])
    }

    func testAChimeThatFailsSaysSo() async throws {
        let backend = RecordingBackend(result: { clip, _ in clip.url.hasSuffix("ding.mp3") ? .error("404") : .ok(.null) })
        let r = try await rig(["log": [kitchen]], backend: backend)
        _ = try await r.say("c1", "Hello", chime: "http://clips.invalid/ding.mp3")
        let ended = await r.final("c1")
        let final = try XCTUnwrap(ended)
        XCTAssertEqual(final["reason"], "Kitchen: the chime did not play: 404")
        XCTAssertEqual(backend.plays.map(\.url), ["http://clips.invalid/ding.mp3"], "no speech after a failed chime")
    }

    func testUnknownSpeakersAndNoSpeakersAreRefusedAtOnce() async throws {
        let r = try await rig(["log": [kitchen]])
        let unknown = try await r.say("u1", "Hello", to: ["Attic"])
        XCTAssertTrue(unknown.finished)
        XCTAssertEqual(unknown.events.first?.reason, "unknown speaker 'Attic'; known speakers: Kitchen")
        let none = try await rig([:])
        let nobody = try await none.say("u2", "Hello")
        XCTAssertEqual(nobody.events.first?.reason, "no speakers are available: no speaker driver is loaded, or none found a speaker")
        XCTAssertEqual(nobody.events.first?.speakers, ["all"])
    }
}
