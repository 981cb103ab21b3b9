import FakeSonos
import Foundation
import LabKit
import XCTest

/// The Sonos driver's audioClip path against fake players that behave as real ones do
/// (`FakeSonosQuirks.real`): status events only after subscribe, events listing every clip the
/// player knows, INTERRUPTED by another clip, cancelAudioClip, ERROR when the clip cannot be
/// fetched, and a clip that plays on after its socket closed. Short clips, `announce_margin: 1`.
final class SonosAudioClipTests: XCTestCase {
    /// One S2 player with the API, playing a queue at track 3 (42 s in), volume 20; the driver has
    /// asked for its local API before this returns.
    /// `ownAddress`: the player on an address of its own at the real ports (1400, 1443), so the
    /// driver finds the API where it looks on a real player (no audio_clip_port setting).
    func clipLab(ownAddress: Bool = false) async throws -> (SonosLab, FakeSonosPlayer) {
        let player = FakeSonosPlayerOptions(name: "Kitchen", volume: 20, audioClip: true)
        let lab = ownAddress
            ? try await sonosLab([player], quirks: .real, addressing: .randomLoopback())
            : try await sonosLab([player], quirks: .real) { ["audio_clip_port": $0.players[0].audioClipPort ?? 0] }
        let kitchen = lab.household.players[0]
        let tracks = (1...5).map { QueueTrack(uri: "x-sonos-http:track\($0).mp3?sid=9&flags=8224&sn=1", title: "Song \($0)") }
        kitchen.setState(.queue(tracks: tracks, track: 3, position: 42), transport: .playing)
        try lab.availability("kitchen", "online")
        let asked = await kitchen.waitUntil(timeout: 10) { $0.audioClipInfoRequests > 0 }
        XCTAssertTrue(asked, "the driver never asked for /api/v1/players/local/info")
        // The answer has to reach the driver too: an announcement before that rightly goes UPnP.
        let probed = await waitFor(lab, "plays announcements through the audioClip API")
        XCTAssertTrue(probed, "the driver did not take the API: \(lab.daemon.daemon.log().suffix(2000))")
        return (lab, kitchen)
    }

    func waitFor(_ lab: SonosLab, _ line: String, timeout: TimeInterval = 10) async -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if lab.daemon.daemon.log().contains(line) { return true }
            try? await Task.sleep(for: .milliseconds(50))
        }
        return false
    }

    func testTheClipsEndIsConfirmedThroughTheStatusSubscription() async throws {
        let (lab, kitchen) = try await clipLab(ownAddress: true)
        XCTAssertEqual(kitchen.audioClipPort, 1443)
        try lab.say("sub1", "Laundry.", to: ["kitchen"], volume: 45)
        let final = try lab.final("sub1")
        XCTAssertEqual(final["state"] as? String, "done", "\(final)")
        // A real player sends status events only to a connection that subscribed first.
        XCTAssertEqual(kitchen.audioClipCommands.map(\.command), ["subscribe", "loadAudioClip"])
        XCTAssertEqual(kitchen.audioClips.map(\.status), ["DONE"])
        XCTAssertGreaterThanOrEqual(kitchen.audioClipStatusEvents, 2, "ACTIVE and DONE reached the driver")
        XCTAssertFalse(lab.daemon.daemon.log().contains("no DONE from the player"), "ended by DONE, not by the timer")
        XCTAssertFalse(lab.daemon.daemon.log().contains("refused the status subscription"))
        XCTAssertEqual(kitchen.fetchedClips, [], "nothing went the UPnP way")
        XCTAssertEqual(kitchen.calls("SetAVTransportURI"), [])
        XCTAssertEqual(kitchen.transportState, .playing, "the music played on under the clip")
        XCTAssertEqual(kitchen.violations, [])
    }

    func testAnotherClipInterruptsOursWhichFailsAsInterruptedAndTheNextOnePlays() async throws {
        let (lab, kitchen) = try await clipLab()
        // Real players let a HIGH clip cut a HIGH one only after 10 s of it; a short test clip
        // needs that threshold at 0 to be cut at all.
        kitchen.audioClipHighInterruptsHighAfter = 0
        try lab.say("cut1", "The front door is open. Please close it.", to: ["kitchen"])
        let active = await kitchen.waitUntil(timeout: 20) { $0.audioClips.first?.status == "ACTIVE" }
        XCTAssertTrue(active, "our clip never played: \(kitchen.audioClips)")
        let doorbell = try XCTUnwrap(kitchen.loadForeignAudioClip(priority: "HIGH", seconds: 0.3))
        let final = try lab.final("cut1", timeout: 10)
        XCTAssertEqual(final["state"] as? String, "failed", "a clip cut short was not played: \(final)")
        XCTAssertTrue((final["reason"] as? String ?? "").contains("interrupted by another clip"), "\(final)")
        let doorbellDone = await kitchen.waitUntil(timeout: 3) { $0.audioClips.map(\.status) == ["INTERRUPTED", "DONE"] }
        XCTAssertTrue(doorbellDone, "\(kitchen.audioClips)")
        XCTAssertEqual(kitchen.audioClips.last?.id, doorbell)
        XCTAssertEqual(kitchen.fetchedClips, [], "not played again over UPnP after whatever cut it")

        try lab.say("cut2", "Thanks.", to: ["kitchen"])
        let next = try lab.final("cut2")
        XCTAssertEqual(next["state"] as? String, "done", "the speaker is free for the next one: \(next)")
        XCTAssertEqual(kitchen.audioClips.last?.status, "DONE")
        XCTAssertEqual(kitchen.violations, [])
    }

    func testAnInterruptingAnnouncementStopsTheClipWithCancelAudioClip() async throws {
        let (lab, kitchen) = try await clipLab()
        try lab.say("long1", String(repeating: "This is a long announcement. ", count: 4), to: ["kitchen"])
        let active = await kitchen.waitUntil(timeout: 20) { $0.audioClips.first?.status == "ACTIVE" }
        XCTAssertTrue(active, "the long clip never played: \(kitchen.audioClips)")
        let long = try XCTUnwrap(kitchen.audioClips.first)
        let body: [String: Any] = ["id": "urgent1", "text": "Smoke.", "speakers": ["kitchen"], "interrupt": true]
        try lab.client.publish(topic: "\(lab.base)/speak", payload: try JSONSerialization.data(withJSONObject: body).map { $0 },
                               qos: 1)
        let first = try lab.final("long1", timeout: 10)
        XCTAssertEqual(first["state"] as? String, "failed", "\(first)")
        // The real player plays a loaded clip on after its socket closed: only cancelAudioClip
        // stops it, so the clip ends DISMISSED long before its length.
        let stopped = await kitchen.waitUntil(timeout: 3) { $0.audioClips.first?.status == "DISMISSED" }
        XCTAssertTrue(stopped, "the long clip was not stopped: \(kitchen.audioClips)")
        XCTAssertEqual(kitchen.audioClips.first?.cancelled, true)
        XCTAssertTrue(kitchen.audioClipCommands.contains(AudioClipCommand(command: "cancelAudioClip", clipID: long.id)),
                      "\(kitchen.audioClipCommands)")
        let urgent = try lab.final("urgent1")
        XCTAssertEqual(urgent["state"] as? String, "done", "\(urgent)")
        XCTAssertEqual(kitchen.audioClips.map(\.status), ["DISMISSED", "DONE"])
        XCTAssertEqual(kitchen.violations, [])
    }

    func testAClipThePlayerCannotFetchGoesOverUPnPAndTheQueueComesBack() async throws {
        let (lab, kitchen) = try await clipLab()
        kitchen.failAudioClipFetch = true
        let queueURI = kitchen.avTransportURI
        try lab.say("err1", "Garage.", to: ["kitchen"], volume: 50)
        let final = try lab.final("err1")
        XCTAssertEqual(final["state"] as? String, "done", "\(final)")
        XCTAssertEqual(kitchen.audioClips.map(\.status), ["ERROR"], "the audioClip API was tried first")
        XCTAssertEqual(kitchen.audioClips.first?.errorCode, "ERROR_AUDIO_CLIP_MEDIA_ERROR")
        XCTAssertTrue(lab.daemon.daemon.log().contains("could not play the clip (ERROR_AUDIO_CLIP_MEDIA_ERROR); playing it over UPnP"),
                      "the fallback names the player's error code")
        XCTAssertEqual(kitchen.fetchedClips.count, 1, "then UPnP played it")
        XCTAssertNil(kitchen.fetchedClips.first?.error)
        XCTAssertEqual(kitchen.avTransportURI, queueURI, "the queue was put back")
        XCTAssertEqual(kitchen.currentTrack, 3)
        XCTAssertEqual(kitchen.transportState, .playing)
        XCTAssertEqual(kitchen.volume, 20)
        XCTAssertEqual(kitchen.violations, [])
    }

    func testOurClipIsFoundInEventsThatListAnotherAppsClipToo() async throws {
        let (lab, kitchen) = try await clipLab()
        // A long LOW clip of another app plays; ours (HIGH) cuts it, and the event that says so
        // lists both: the other clip INTERRUPTED, ours ACTIVE.
        let chime = try XCTUnwrap(kitchen.loadForeignAudioClip(priority: "LOW", seconds: 10))
        try lab.say("many1", "Mail.", to: ["kitchen"])
        let final = try lab.final("many1")
        XCTAssertEqual(final["state"] as? String, "done", "\(final)")
        XCTAssertEqual(kitchen.audioClips.first?.id, chime)
        XCTAssertEqual(kitchen.audioClips.map(\.status), ["INTERRUPTED", "DONE"])
        XCTAssertFalse(lab.daemon.daemon.log().contains("no DONE from the player"), "our DONE was picked out by its id")
        XCTAssertEqual(kitchen.fetchedClips, [])
        XCTAssertEqual(kitchen.violations, [])
    }
}
