import FakeSonos
import Foundation
import LabKit
import XCTest

/// `<speaker>/state` from a fake household that reports as real players do: AVTransport events
/// after the first carry only what changed, and a group member reports `x-rincon:<coordinator>`,
/// no metadata and PLAYING whatever its group does.
final class SonosStateTests: XCTestCase {
    private let quirks = FakeSonosQuirks(partialEvents: true, memberReportsCoordinator: true)
    private let tracks = (1...5).map { QueueTrack(uri: "x-sonos-http:track\($0).mp3?sid=9&flags=8224&sn=1", title: "Song \($0)", duration: 200) }

    /// The richer fields arrive, and a partial event (a new track and paused, no AVTransportURI)
    /// changes what it names and keeps the rest.
    func testPartialEventsKeepTheStateWhole() async throws {
        let lab = try await sonosLab([.init(name: "Kitchen")], quirks: quirks)
        let kitchen = lab.household.players[0]
        kitchen.setState(.queue(tracks: tracks, track: 3, position: 42), transport: .playing, playMode: "SHUFFLE")
        try lab.availability("kitchen", "online")
        // The position arrives with the first answer to GetPositionInfo, not guessed before.
        let playing = try lab.state("kitchen") { $0["state"] as? String == "playing" && $0["position"] != nil }
        XCTAssertEqual(playing["title"] as? String, "Song 3")
        XCTAssertEqual(playing["source"] as? String, "queue")
        XCTAssertEqual(playing["uri"] as? String, kitchen.avTransportURI)
        XCTAssertEqual(playing["track"] as? Int, 3)
        XCTAssertEqual(playing["duration"] as? Int, 200)
        XCTAssertEqual(Double(playing["position"] as? Int ?? -1), 42, accuracy: 5, "from GetPositionInfo")
        XCTAssertEqual(playing["play_mode"] as? String, "SHUFFLE")
        XCTAssertEqual(playing["crossfade"] as? Bool, false)
        XCTAssertEqual(playing["group_name"] as? String, "Kitchen")
        XCTAssertEqual(playing["group_member_names"] as? [String], ["Kitchen"])
        XCTAssertFalse(kitchen.calls("GetPositionInfo").isEmpty)

        let eventsBefore = kitchen.eventsSent.count
        kitchen.setState(.queue(tracks: tracks, track: 4, position: 0), transport: .pausedPlayback, playMode: "SHUFFLE")
        let paused = try lab.state("kitchen") { $0["state"] as? String == "paused" && $0["title"] as? String == "Song 4" }
        // The event that said so really lacked the transport URI.
        let partial = kitchen.eventsSent.dropFirst(eventsBefore).filter { $0.service == "AVTransport" }
        XCTAssertFalse(partial.isEmpty)
        XCTAssertTrue(partial.allSatisfy { !$0.body.contains("&lt;AVTransportURI ") && !$0.body.contains("<AVTransportURI ") },
                      "\(partial.map(\.body))")
        XCTAssertEqual(paused["uri"] as? String, kitchen.avTransportURI, "kept from the initial event")
        XCTAssertEqual(paused["source"] as? String, "queue")
        XCTAssertEqual(paused["play_mode"] as? String, "SHUFFLE")
        XCTAssertEqual(paused["track"] as? Int, 4)
        XCTAssertEqual(paused["position"] as? Int, 0, "another track starts at its beginning")
        XCTAssertEqual(kitchen.violations, [])
    }

    /// A member's state shows its coordinator's music and group, and follows the coordinator
    /// (paused there: paused here, though the member itself still says PLAYING); the member is
    /// never asked for a position.
    func testAMemberShowsItsCoordinatorsMusic() async throws {
        let lab = try await sonosLab([.init(name: "Kitchen"), .init(name: "Office", volume: 12)], quirks: quirks)
        let (kitchen, office) = (lab.household.players[0], lab.household.players[1])
        kitchen.setState(.queue(tracks: tracks, track: 2, position: 30), transport: .playing)
        try lab.availability("kitchen", "online")
        try lab.availability("office", "online")
        lab.household.join(office, to: kitchen)
        // Its own volume, the coordinator's music. The topology event and the member's own
        // AVTransport event (its x-rincon: URI) come apart, in either order: wait for both.
        let member = try lab.state("office") {
            ($0["group"] as? [String: Any])?["coordinator"] as? String == "kitchen" && $0["title"] as? String == "Song 2"
                && $0["volume"] as? Int == 12 && $0["uri"] as? String == "x-rincon:\(kitchen.uuid)"
        }
        XCTAssertEqual(office.avTransportURI, "x-rincon:\(kitchen.uuid)", "the member reports the group stream")
        XCTAssertEqual(member["state"] as? String, "playing")
        XCTAssertEqual(member["source"] as? String, "queue")
        XCTAssertEqual(member["duration"] as? Int, 200)
        XCTAssertEqual(member["uri"] as? String, "x-rincon:\(kitchen.uuid)")
        XCTAssertEqual(member["group_name"] as? String, "Kitchen + 1")
        XCTAssertEqual(Set(member["group_member_names"] as? [String] ?? []), ["Kitchen", "Office"])
        _ = try lab.state("kitchen") { $0["group_name"] as? String == "Kitchen + 1" }

        kitchen.setState(.queue(tracks: tracks, track: 2, position: 30), transport: .pausedPlayback)
        _ = try lab.state("office") { $0["state"] as? String == "paused" }
        XCTAssertEqual(office.transportState, .playing, "what the member itself reports")
        XCTAssertEqual(office.calls("GetPositionInfo"), [])
        XCTAssertFalse(kitchen.calls("GetPositionInfo").isEmpty)
    }
}
