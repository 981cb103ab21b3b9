import FakeSonos
import Foundation
import LabKit
import XCTest

/// Restores that hold on real players (issue #12): the daemon with the Sonos driver against the fake
/// household on loopback, which refuses what real players refuse (a TuneIn stream sent back with the
/// item id -1 metadata the player reported: UPnP 402) and records every action in order.
final class SonosRestoreTests: XCTestCase {
    func testATuneInStationComesBackWithMetadataRebuiltFromItsURIAndTheClipIsSetBeforeItsVolume() async throws {
        let lab = try await sonosLab([.init(name: "Kitchen", volume: 20)])
        let kitchen = lab.household.players[0]
        // What a real player reports for a TuneIn station: its title, but item id -1.
        let station = "x-sonosapi-stream:s24939?sid=254&flags=8224&sn=0"
        kitchen.setState(.radio(uri: station, metadata: radioMetadata(title: "1LIVE", id: "-1")), transport: .playing)
        try lab.availability("kitchen", "online")
        _ = try lab.state("kitchen") { $0["state"] as? String == "playing" }
        try lab.say("r1", "Ding.", to: ["kitchen"], volume: 45)
        let final = try lab.final("r1")
        XCTAssertEqual(final["state"] as? String, "done", "\(final)")
        XCTAssertNil(final["not_restored"], "\(final)")

        let sets = kitchen.calls("SetAVTransportURI")
        XCTAssertEqual(sets.map(\.faultCode), [nil, nil], "the clip, then the station, both accepted: \(sets)")
        let restore = try XCTUnwrap(sets.last)
        XCTAssertEqual(restore.args["CurrentURI"], station)
        let metadata = restore.args["CurrentURIMetaData"] ?? ""
        XCTAssertTrue(metadata.contains("id=\"F00092020s24939\""), metadata)
        XCTAssertTrue(metadata.contains("parentID=\"L\""), metadata)
        XCTAssertTrue(metadata.contains("SA_RINCON65031_"), metadata)
        XCTAssertTrue(metadata.contains("<dc:title>1LIVE</dc:title>"), "the station's name kept: \(metadata)")
        XCTAssertEqual(kitchen.avTransportURI, station)
        XCTAssertEqual(kitchen.transportState, .playing)
        XCTAssertEqual(kitchen.volume, 20)

        // The clip's URI before its volume: the station never played at 45. Volume and Play then go
        // out together (in either order at the player).
        let order = kitchen.soapLog.map(\.action).filter { ["SetAVTransportURI", "SetVolume", "Play"].contains($0) }
        XCTAssertEqual(order.first, "SetAVTransportURI", "\(kitchen.soapLog)")
        XCTAssertEqual(Set(order.dropFirst().prefix(2)), ["SetVolume", "Play"], "\(kitchen.soapLog)")
        XCTAssertEqual(kitchen.violations, [])
    }

    func testAnAlexaOrSpotifyCloudQueueIsReportedNotRestored() async throws {
        let lab = try await sonosLab([.init(name: "Kitchen")])
        try lab.client.subscribe("\(lab.base)/bridge/event/plugin/#")
        let kitchen = lab.household.players[0]
        // A cloud queue lives under a queue number other than #0.
        let cloud = "x-rincon-queue:\(kitchen.uuid)#6"
        kitchen.setState(.radio(uri: cloud, metadata: ""), transport: .playing)
        try lab.availability("kitchen", "online")
        try lab.say("c1", "Ding.", to: ["kitchen"], volume: 30)
        let final = try lab.final("c1")
        XCTAssertEqual(final["state"] as? String, "done", "\(final)")
        let notes = final["not_restored"] as? [String: String] ?? [:]
        XCTAssertTrue((notes["Kitchen"] ?? "").contains("cloud queue"), "\(final)")
        XCTAssertFalse(kitchen.calls("SetAVTransportURI").contains { $0.args["CurrentURI"] == cloud },
                       "the cloud queue is not sent back as if it were the room's own: \(kitchen.soapLog)")
        XCTAssertEqual(kitchen.calls("Seek"), [])
        let note = try lab.client.waitFor("\(lab.base)/bridge/event/plugin/org.speakerbridge.sonos/not_restored", timeout: 5)
        XCTAssertEqual(json(note)["speaker"] as? String, "kitchen")
    }

    /// With the real players' quirks (partial events, real fault codes): SetPlayMode is only valid
    /// once the queue is back, and it comes back with the queue.
    func testThePlayModeComesBackWithTheQueue() async throws {
        let lab = try await sonosLab([.init(name: "Kitchen", volume: 20)], quirks: .real)
        let kitchen = lab.household.players[0]
        let tracks = (1...4).map { QueueTrack(uri: "x-sonos-http:t\($0).mp3?sid=9&flags=8224&sn=1", title: "Song \($0)") }
        kitchen.setState(.queue(tracks: tracks, track: 2, position: 30), transport: .playing, playMode: "SHUFFLE_NOREPEAT")
        try lab.availability("kitchen", "online")
        _ = try lab.state("kitchen") { $0["state"] as? String == "playing" }
        try lab.say("p1", "Ding.", to: ["kitchen"], volume: 40)
        let final = try lab.final("p1")
        XCTAssertEqual(final["state"] as? String, "done", "\(final)")
        XCTAssertNil(final["not_restored"], "\(final)")
        let modes = kitchen.calls("SetPlayMode")
        XCTAssertEqual(modes.map { $0.args["NewPlayMode"] }, ["SHUFFLE_NOREPEAT"], "\(kitchen.soapLog)")
        XCTAssertEqual(modes.map(\.faultCode), [nil], "sent after the queue was back")
        let actions = kitchen.soapLog.map(\.action)
        let queueBack = try XCTUnwrap(actions.lastIndex(of: "SetAVTransportURI"))
        XCTAssertLessThan(queueBack, try XCTUnwrap(actions.firstIndex(of: "SetPlayMode")))
        XCTAssertEqual(kitchen.playMode, "SHUFFLE_NOREPEAT")
        XCTAssertEqual(kitchen.currentTrack, 2)
        XCTAssertEqual(kitchen.transportState, .playing)
        XCTAssertEqual(kitchen.violations, [])
    }
}
