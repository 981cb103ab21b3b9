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
        _ = try lab.state("room_3") { $0["offline_reason"] as? String == "the household says: powered off" }
        try lab.daemon.daemon.process.waitForLog(containing: "room_3 (Room 3, \(room.host)) is offline: the household says: powered off",
                                                 timeout: 5)
    }

    /// Discovery as on a real LAN, inside a lab namespace: two fake households answer SSDP beside the
    /// daemon, which keeps to the one its `household` setting names; a hostile host on the lab LAN
    /// says goodbye in the player's name, floods fake players and claims the player's UDN.
    func testDiscoveryKeepsToItsHouseholdAndAnSSDPImpostorChangesNothing() async throws {
        if let reason = NetnsLab.unavailableReason {
            print("SKIPPED SSDP discovery lab: \(reason)")
            throw XCTSkip("SSDP discovery lab: \(reason)")
        }
        let lab = try NetnsLab(hosts: 3)
        let home = lab.hosts[0], den = lab.hosts[1], attic = lab.hosts[2]
        addTeardownBlock { lab.destroy() }
        // Each household's player on port 1400 of an address of its own on the lab LAN (a second
        // subnet on the same bridge, which the daemon's host joins too).
        func household(_ host: LabHost, _ name: String) async throws -> FakeSonosProgram {
            let prefix = "10.\(Int.random(in: 200...250)).\(Int.random(in: 1...250))"
            try Shell.runChecked(["ip", "-n", host.name, "addr", "add", "\(prefix).1/24", "dev", host.interface])
            try Shell.runChecked(["ip", "-n", home.name, "addr", "add", "\(prefix).\(Int.random(in: 100...200))/24", "dev", home.interface])
            let program = try await FakeSonosProgram.start(in: lab, host: host, arguments: [
                "--players", "1", "--names", name, "--prefix", prefix, "--ssdp-interface", host.interface])
            addTeardownBlock { program.stop() }
            return program
        }
        let ours = try await household(den, "Den")
        let theirs = try await household(attic, "Attic")
        let player = try XCTUnwrap(ours.players.first)
        XCTAssertNotEqual(ours.householdID, theirs.householdID)

        let broker = try MosquittoBroker(netns: home.name)
        try broker.start()
        addTeardownBlock { broker.stop() }
        let plugins = try TempDirectory(prefix: "sbplugins")
        addTeardownBlock { plugins.remove() }
        try PluginBuild.sonosDriver(to: plugins.file("sonos.so"))
        try writeJSON(["discovery": true, "interface": home.interface, "household": ours.householdID, "search_interval": 2,
                       "probe_interval": 1, "soap_timeout": 2, "announce_margin": 1], to: plugins.file("sonos.json"))
        let daemon = try DaemonUnderTest(brokerPort: broker.port, settings: [
            "plugins.path": plugins.path, "network.interface": home.interface, "log_level": "debug",
        ], netns: home.name)
        addTeardownBlock { daemon.stopAndRemoveState() }
        try daemon.start()
        do {
            try daemon.process.waitForLog(containing: "den (Den, \(URL(string: player.location)?.host ?? "?")) is online", timeout: 20)
        } catch {
            print("--- daemon log:\n\(daemon.log().suffix(6000))\n--- fake-sonos:\n\(ours.output.suffix(2000))")
            throw error
        }

        let script = PluginBuild.root + "/Tests/Fixtures/hostile/ssdp_impostor.py"
        let evil = attic
        let impostor = try lab.background(host: evil, ["python3", script, evil.address, "8081", player.uuid, ours.householdID, "80"])
        addTeardownBlock { impostor.stop() }
        XCTAssertTrue(waitUntil(timeout: 15, interval: 0.1) { impostor.output().contains("sent claim") }, impostor.output())
        // The flood fills the table; the claim is fetched and refused.
        XCTAssertTrue(waitUntil(timeout: 20, interval: 0.1) {
            impostor.output().contains("GET /d/\(player.uuid)/Impostor.xml")
                && daemon.log().contains("claims to be den (at \(player.location)), but its household is \"\", not \"\(ours.householdID)\": ignored")
        }, "the claim was fetched and refused:\n\(impostor.output().suffix(2000))\n\(daemon.log().suffix(3000))")
        XCTAssertTrue(waitUntil(timeout: 10, interval: 0.1) {
            daemon.log().contains("64 speakers, all online or seen within forget_after")
        }, "the flood met a full table:\n\(daemon.log().suffix(3000))")

        let log = daemon.log()
        XCTAssertFalse(log.contains("den (Den") && log.contains("is offline"), "no goodbye in its name took it offline:\n\(log)")
        XCTAssertTrue(log.contains("a goodbye for \(player.uuid) from \(evil.address)"), log)
        XCTAssertFalse(log.contains("moved to http://\(evil.address)"), "the claim was not followed")
        XCTAssertFalse(log.contains(theirs.players.first?.location ?? "?"), "the other household's player was never fetched:\n\(log)")
        XCTAssertFalse(log.contains("Sonos_Impostor"), "another household's claim is not even fetched")
    }
}
