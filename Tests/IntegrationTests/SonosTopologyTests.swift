import FakeSonos
import Foundation
import LabKit
import XCTest

/// The household's topology as large and bonded households have it, against the fake household with
/// the real players' behaviour switched on: GetZoneGroupState refused on large households, a stereo
/// pair, a Boost, a home theatre and a line-in player, players that vanish with a reason.
final class SonosTopologyTests: XCTestCase {
    func testALargeHouseholdWithoutGetZoneGroupStateIsPlacedFromItsTopologyEvents() async throws {
        // Real players answer GetZoneGroupState with 501 from about 20 players on; the fake's limit
        // is lowered to 4 so 8 players show the same.
        var players: [FakeSonosPlayerOptions] = (1...3).map { .init(name: "Room \($0)") }
        players += [.init(name: "Lounge"), .init(name: "Lounge", stereoPairOf: "Lounge"),
                    .init(name: "Boost", model: .boost), .init(name: "Cinema", model: .beam),
                    .init(name: "Study", model: .play5)]
        let lab = try await sonosLab(players, quirks: FakeSonosQuirks(zoneGroupStateLimit: 4))
        for id in (1...3).map({ "room_\($0)" }) + ["lounge", "cinema", "study"] {
            try lab.availability(id, "online", timeout: 20)
        }
        let log = lab.daemon.daemon.log()
        XCTAssertTrue(log.contains("answers no GetZoneGroupState (501, a large household): waiting for its topology event"), log)
        XCTAssertGreaterThan(lab.household.players[0].calls("GetZoneGroupState").count, 0, "it was asked first")

        // One room for the pair, none for its right speaker or the Boost.
        var ids: Set<String> = []
        XCTAssertTrue(waitUntil(timeout: 5, interval: 0.2) {
            let info = (try? lab.daemon.info()) ?? [:]
            let sonos = (info["loaded"] as? [[String: Any]] ?? []).first { $0["id"] as? String == SonosDriverTests.pluginID }
            ids = Set((sonos?["speakers"] as? [[String: Any]] ?? []).compactMap { $0["id"] as? String })
            return ids.count >= 6
        })
        XCTAssertEqual(ids, ["room_1", "room_2", "room_3", "lounge", "cinema", "study"])
        XCTAssertFalse(ids.contains("lounge_2") || ids.contains("boost"), "\(ids.sorted())")
        XCTAssertTrue(lab.client.messages(on: "\(lab.base)/lounge_2/availability").isEmpty)
        XCTAssertTrue(lab.client.messages(on: "\(lab.base)/boost/availability").isEmpty)

        // A player the household reports vanished goes offline with the household's reason.
        let room = lab.household.players[2]
        let mark = ContinuousClock.now
        await lab.household.vanish(room, reason: "powered off")
        try lab.availability("room_3", "offline", after: mark, timeout: 10)
        try lab.daemon.daemon.process.waitForLog(containing: "room_3 (Room 3, \(room.host)) is offline: the household says: powered off",
                                                 timeout: 5)
    }
}
