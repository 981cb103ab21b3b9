import Foundation
import XCTest

@testable import SpeakerbridgeHost

/// One speaker's queue: priorities, interrupts and its bound.
final class SpeakerQueueTests: AnnouncerTestCase {
    let kitchen = speaker("uuid-k", "Kitchen")

    func testTheQueuePlaysHighBeforeNormalAndAnInterruptCutsTheClipPlaying() async throws {
        let backend = RecordingBackend()
        backend.hold()
        let r = try await rig(["log": [kitchen]], backend: backend)
        _ = try await r.say("q1", "first")
        let playing = await eventually { backend.plays.count == 1 }
        XCTAssertTrue(playing)
        _ = try await r.say("q2", "normal")
        _ = try await r.say("q3", "high", priority: .high)
        // The operation id reaches the queue through a task: give it a moment before the cut.
        try await Task.sleep(for: .milliseconds(100))
        _ = try await r.say("q4", "urgent", interrupt: true)
        XCTAssertEqual(backend.cancelled, [1], "the clip playing was cut")
        let cut = await eventually { backend.plays.count == 2 }
        XCTAssertTrue(cut)
        backend.release()
        let all = await eventually { r.states(of: "q2").contains("done") }
        XCTAssertTrue(all)
        XCTAssertEqual(backend.plays.map(\.url).map { URL(string: $0)!.deletingPathExtension().lastPathComponent },
                       ["first", "urgent", "high", "normal"])
    }

    func testAnInterruptRightAsTheClipStartsStillCutsIt() async throws {
        // No pause between the clip starting and the interrupt: the driver's operation id may not
        // have reached the queue yet, and the cut must wait for it rather than be forgotten.
        let backend = RecordingBackend()
        backend.hold()
        let r = try await rig(["log": [kitchen]], backend: backend)
        _ = try await r.say("i1", "first")
        let playing = await eventually { backend.plays.count == 1 }
        XCTAssertTrue(playing)
        _ = try await r.say("i2", "urgent", interrupt: true)
        let cut = await eventually { backend.cancelled == [1] && backend.plays.count == 2 }
        XCTAssertTrue(cut, "cancelled \(backend.cancelled), plays \(backend.plays.count)")
        backend.release()
        let done = await eventually { r.states(of: "i2").contains("done") }
        XCTAssertTrue(done)
        // (This fake ends a cancelled play like any other; AnnouncementTests sees the real `failed`.)
        XCTAssertEqual(backend.plays.map(\.url).map { URL(string: $0)!.deletingPathExtension().lastPathComponent }, ["first", "urgent"])
    }

    func testAnInterruptDuringSynthesisCutsThatAnnouncementAsSoonAsItStarts() async throws {
        let backend = RecordingBackend()
        backend.hold()
        let r = try await rig(["log": [kitchen]], backend: backend)
        _ = try await r.say("s1", "first")
        _ = try await r.say("s2", "urgent", interrupt: true)
        let cut = await eventually { backend.cancelled == [1] && backend.plays.count == 2 }
        XCTAssertTrue(cut, "cancelled \(backend.cancelled), plays \(backend.plays.count)")
        backend.release()
        let done = await eventually { r.states(of: "s2").contains("done") }
        XCTAssertTrue(done, "s2 \(r.states(of: "s2"))")
        XCTAssertEqual(backend.plays.map(\.url).map { URL(string: $0)!.deletingPathExtension().lastPathComponent }, ["first", "urgent"])
    }

    func testAFullQueueRefusesWithTheReason() async throws {
        let backend = RecordingBackend()
        backend.hold()
        let r = try await rig(["log": [kitchen]], backend: backend, maxQueue: 2)
        _ = try await r.say("f1", "one")
        _ = try await r.say("f2", "two")
        let refused = try await r.say("f3", "three")
        XCTAssertTrue(refused.finished)
        XCTAssertEqual(refused.events.first?.reason,
                       "Kitchen already has 2 announcements queued (announcements.max_queue); try again later")
        backend.release()
    }
}
