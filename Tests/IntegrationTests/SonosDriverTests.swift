import FakeSonos
import Foundation
import LabKit
import XCTest

/// The Sonos driver against the faithful fake household (what no open-source renderer can do:
/// groups, x-rincon, queues, fixed volume, cloud queues, UPnP faults). Everything on 127.0.0.1:
/// the driver gets the players as static addresses, discovery is off, nothing is multicast.
final class SonosDriverTests: XCTestCase {
    static let pluginID = "org.speakerbridge.sonos"

    func testPlayersAppearOnlineWithStateAndSatellitesStayHidden() async throws {
        let lab = try await sonosLab([.init(name: "Kitchen", volume: 25), .init(name: "Living Room"),
                                 .init(name: "Sub", invisibleSatelliteOf: "Living Room")])
        try lab.availability("kitchen", "online")
        try lab.availability("living_room", "online")
        let state = try lab.state("kitchen") { $0["volume"] as? Int == 25 }
        XCTAssertEqual(state["name"] as? String, "Kitchen")
        XCTAssertEqual(state["uuid"] as? String, lab.household.players[0].uuid)
        XCTAssertEqual((state["group"] as? [String: Any])?["coordinator"] as? String, "kitchen")
        let info = try lab.daemon.info()
        let plugins = info["loaded"] as? [[String: Any]] ?? []
        let sonos = try XCTUnwrap(plugins.first { $0["id"] as? String == Self.pluginID }, "\(info)")
        let names = (sonos["speakers"] as? [[String: Any]] ?? []).compactMap { $0["name"] as? String }.sorted()
        XCTAssertEqual(names, ["Kitchen", "Living Room"], "the invisible sub is not a room")
        XCTAssertTrue(lab.client.messages(on: "\(lab.base)/sub/availability").isEmpty)
        // Events keep the state current: a volume change on the player reaches MQTT.
        lab.household.players[0].volume = 31
        _ = try lab.state("kitchen") { $0["volume"] as? Int == 31 }
    }

    func testAnAnnouncementPutsTheQueueBackAtItsTrackPositionAndVolume() async throws {
        let lab = try await sonosLab([.init(name: "Kitchen", volume: 20)])
        let kitchen = lab.household.players[0]
        let tracks = (1...5).map { QueueTrack(uri: "x-sonos-http:track\($0).mp3?sid=9&flags=8224&sn=1", title: "Song \($0)") }
        kitchen.setState(.queue(tracks: tracks, track: 3, position: 42), transport: .playing)
        try lab.availability("kitchen", "online")
        let queueURI = kitchen.avTransportURI
        try lab.say("q1", "The laundry is done.", to: ["kitchen"], volume: 50)
        let final = try lab.final("q1")
        XCTAssertEqual(final["state"] as? String, "done", "\(final)")
        let clip = try XCTUnwrap(kitchen.fetchedClips.first, "the player fetched the clip")
        XCTAssertNil(clip.error)
        XCTAssertGreaterThan(clip.duration ?? 0, 0.5, "a real WAV with speech")
        XCTAssertEqual(kitchen.avTransportURI, queueURI)
        XCTAssertEqual(kitchen.currentTrack, 3)
        XCTAssertEqual(kitchen.position, 42, accuracy: 5, "position restored (plus the seconds since)")
        XCTAssertEqual(kitchen.transportState, .playing)
        XCTAssertEqual(kitchen.volume, 20)
        XCTAssertEqual(kitchen.calls("SetVolume").map { $0.args["DesiredVolume"] }, ["50", "20"])
        XCTAssertEqual(kitchen.violations, [])
    }

    func testLineInAndTVComeBackAfterAnAnnouncement() async throws {
        let lab = try await sonosLab([.init(name: "Den"), .init(name: "Living Room")])
        let (den, living) = (lab.household.players[0], lab.household.players[1])
        den.setState(.lineIn)
        living.setState(.tv)
        let (lineIn, tv) = (den.avTransportURI, living.avTransportURI)
        XCTAssertEqual(lineIn, "x-rincon-stream:\(den.uuid)")
        XCTAssertTrue(tv.hasPrefix("x-sonos-htastream:"), tv)
        try lab.availability("den", "online")
        try lab.availability("living_room", "online")
        try lab.say("l1", "The film starts in five minutes.", to: ["den", "living_room"], volume: 35)
        let final = try lab.final("l1")
        XCTAssertEqual(final["state"] as? String, "done", "\(final)")
        XCTAssertEqual(den.fetchedClips.count, 1)
        XCTAssertEqual(living.fetchedClips.count, 1)
        XCTAssertEqual(den.avTransportURI, lineIn, "line-in back")
        XCTAssertEqual(living.avTransportURI, tv, "TV back")
        XCTAssertEqual(den.transportState, .playing)
        XCTAssertEqual(living.transportState, .playing)
        XCTAssertEqual(den.volume, 20)
        XCTAssertEqual(living.volume, 20)
        XCTAssertEqual(den.violations + living.violations, [])
    }

    func testAGroupMemberHearsTheClipAloneAndRejoinsItsCoordinator() async throws {
        let lab = try await sonosLab([.init(name: "Kitchen"), .init(name: "Office")])
        let (kitchen, office) = (lab.household.players[0], lab.household.players[1])
        kitchen.setState(.radio(uri: "x-sonosapi-stream:s12345?sid=254&flags=8224&sn=0", metadata: radioMetadata(title: "Jazz FM")))
        lab.household.join(office, to: kitchen)
        try lab.availability("office", "online")
        _ = try lab.state("office") { ($0["group"] as? [String: Any])?["coordinator"] as? String == "kitchen" }
        kitchen.clearLogs()
        try lab.say("g1", "Someone is at the door.", to: ["office"])
        let final = try lab.final("g1")
        XCTAssertEqual(final["state"] as? String, "done", "\(final)")
        XCTAssertEqual(office.fetchedClips.count, 1)
        XCTAssertEqual(office.coordinatorUUID, kitchen.uuid, "back in the kitchen's group")
        XCTAssertEqual(office.avTransportURI, "x-rincon:\(kitchen.uuid)")
        XCTAssertEqual(kitchen.calls("SetAVTransportURI"), [], "the coordinator's radio was never touched")
        XCTAssertEqual(kitchen.transportState, .playing)
        XCTAssertEqual(office.violations + kitchen.violations, [])
    }

    func testFixedVolumeIsLeftAloneAndACloudQueueIsReportedNotRestored() async throws {
        let lab = try await sonosLab([.init(name: "Kitchen"), .init(name: "Port", fixedVolume: true)])
        try lab.client.subscribe("\(lab.base)/bridge/event/plugin/#")
        let (kitchen, port) = (lab.household.players[0], lab.household.players[1])
        kitchen.setState(.cloudQueue(id: "spotify:playlist:37i9dQZF1DXcBWIGoYBM5M"))
        try lab.availability("kitchen", "online")
        try lab.availability("port", "online")
        try lab.say("c1", "Dinner is ready.", to: ["all"], volume: 40)
        let final = try lab.final("c1")
        XCTAssertEqual(final["state"] as? String, "done", "\(final)")
        let notes = final["not_restored"] as? [String: String] ?? [:]
        XCTAssertTrue((notes["Kitchen"] ?? "").contains("cloud queue"), "the announcement's result says so: \(final)")
        XCTAssertNil(notes["Port"])
        XCTAssertEqual(port.calls("SetVolume"), [], "a fixed output is never set")
        // The fake records a fetch when its download ends, which can come just after STOPPED.
        let fetched = await port.waitUntil(timeout: 12) { $0.fetchedClips.count == 1 }
        XCTAssertTrue(fetched, "the port fetched the clip: \(port.fetchedClips); SetAVTransportURI \(port.calls("SetAVTransportURI")), Play \(port.calls("Play")), transport \(port.transportState); final \(final)")
        XCTAssertNil(port.fetchedClips.first?.error, "and played it: \(port.fetchedClips)")
        let note = try lab.client.waitFor("\(lab.base)/bridge/event/plugin/\(Self.pluginID)/not_restored", timeout: 5)
        XCTAssertEqual(json(note)["speaker"] as? String, "kitchen")
        XCTAssertTrue((json(note)["reason"] as? String ?? "").contains("cloud queue"), "\(json(note))")
        XCTAssertEqual(port.violations + kitchen.violations, [])
    }

    func testAUPnPFaultFailsTheAnnouncementWithItsMeaningAndTheNextOnePlays() async throws {
        let lab = try await sonosLab([.init(name: "Kitchen", volume: 20)])
        let kitchen = lab.household.players[0]
        try lab.availability("kitchen", "online")
        kitchen.failNext(action: "SetAVTransportURI", upnpCode: 714)
        try lab.say("f1", "This one fails.", to: ["kitchen"], volume: 60)
        let failed = try lab.final("f1")
        XCTAssertEqual(failed["state"] as? String, "failed")
        let reason = failed["reason"] as? String ?? ""
        XCTAssertTrue(reason.contains("714") && reason.contains("MIME"), reason)
        XCTAssertEqual(kitchen.volume, 20, "the volume set for the clip was put back")
        try lab.say("f2", "This one plays.", to: ["kitchen"])
        XCTAssertEqual(try lab.final("f2")["state"] as? String, "done")
    }

    func testASlowSpeakerTimesOutGoesOfflineAndComesBack() async throws {
        // Only the announcement talks to the slow player, so its own call is what times out first:
        // no search round re-describing the static address meanwhile (the first one found it),
        // and the subscriptions are answered before the player turns slow (a SUBSCRIBE timing
        // out would have the driver check the description, and that check could time out, and
        // take the speaker offline, while the announcement's call still waits).
        let lab = try await sonosLab([.init(name: "Kitchen")], settings: ["search_interval": 3600])
        let kitchen = lab.household.players[0]
        try lab.availability("kitchen", "online")
        let subscribed = await kitchen.waitUntil { $0.subscriptions.count == 3 }
        XCTAssertTrue(subscribed, "\(kitchen.subscriptions)")
        kitchen.respondSlowly(seconds: 3)
        try lab.say("s1", "Too slow.", to: ["kitchen"])
        let final = try lab.final("s1")
        XCTAssertEqual(final["state"] as? String, "failed")
        let reason = final["reason"] as? String ?? ""
        XCTAssertTrue(reason.contains("no answer from") && reason.contains("within 2.0 s"), "\(final)")
        XCTAssertFalse(reason.contains("went offline"), "the announcement's own call timed out first: \(final)")
        try lab.availability("kitchen", "offline")
        let mark = ContinuousClock.now
        kitchen.respondSlowly(seconds: 0)
        try lab.availability("kitchen", "online", after: mark)
        try lab.say("s2", "Back again.", to: ["kitchen"])
        let back = try lab.final("s2")
        XCTAssertEqual(back["state"] as? String, "done", "\(back)")
        XCTAssertEqual(try lab.daemon.request("health")["status"] as? String, "ok")
    }

    func testASpeakerThatVanishesMidAnnouncementFailsItAndReturnsOnline() async throws {
        let lab = try await sonosLab([.init(name: "Kitchen"), .init(name: "Office")])
        let kitchen = lab.household.players[0]
        try lab.availability("kitchen", "online")
        try lab.availability("office", "online")
        try lab.say("v1", "This is a long announcement that will be cut short when the speaker disappears from the network.",
                    to: ["kitchen"])
        let playing = await kitchen.waitUntil(timeout: 15) { $0.fetchedClips.count == 1 }
        XCTAssertTrue(playing)
        await kitchen.goOffline()
        let final = try lab.final("v1")
        XCTAssertEqual(final["state"] as? String, "failed", "\(final)")
        try lab.availability("kitchen", "offline")
        // The others are not held up.
        try lab.say("v2", "The office still works.", to: ["office"])
        let office = try lab.final("v2")
        XCTAssertEqual(office["state"] as? String, "done", "\(office)")
        let mark = ContinuousClock.now
        try await kitchen.comeBack(rebooted: true)
        try lab.availability("kitchen", "online", after: mark)
        try lab.say("v3", "The kitchen is back.", to: ["kitchen"])
        let back = try lab.final("v3")
        XCTAssertEqual(back["state"] as? String, "done", "\(back)")
    }

    func testAPlayerThatMovesToANewAddressIsFollowed() async throws {
        let lab = try await sonosLab([.init(name: "Kitchen"), .init(name: "Office")])
        let kitchen = lab.household.players[0]
        try lab.availability("kitchen", "online")
        try lab.availability("office", "online")
        let oldPort = kitchen.port
        await kitchen.goOffline()
        try lab.availability("kitchen", "offline")
        let mark = ContinuousClock.now
        // Back at another address: the static list still names the old one; the household's
        // topology (the office's ZoneGroupTopology events) tells where it is now.
        try await kitchen.comeBack(rebooted: true, moved: true)
        XCTAssertNotEqual(kitchen.port, oldPort)
        try lab.availability("kitchen", "online", after: mark, timeout: 20)
        _ = try lab.state("kitchen") { $0["state"] as? String != "offline" }
        try lab.say("m1", "Found you at your new address.", to: ["kitchen"])
        let final = try lab.final("m1")
        XCTAssertEqual(final["state"] as? String, "done", "\(final)")
        XCTAssertEqual(kitchen.fetchedClips.count, 1)
        let ok = await kitchen.waitUntil { $0.subscriptions.count == 3 }
        XCTAssertTrue(ok, "subscribed again at the new address: \(kitchen.subscriptions)")
    }

    func testCommandsGoToThePlayerAndTheStateFollows() async throws {
        let lab = try await sonosLab([.init(name: "Kitchen"), .init(name: "Office")])
        let (kitchen, office) = (lab.household.players[0], lab.household.players[1])
        let tracks = (1...3).map { QueueTrack(uri: "x-sonos-http:t\($0).mp3", title: "Song \($0)") }
        kitchen.setState(.queue(tracks: tracks, track: 1, position: 0), transport: .playing)
        try lab.availability("kitchen", "online")
        try lab.availability("office", "online")

        let volume = try lab.set("kitchen", ["command": "volume", "level": 33])
        XCTAssertEqual(volume["status"] as? String, "ok", "\(volume)")
        _ = try lab.state("kitchen") { $0["volume"] as? Int == 33 }
        XCTAssertEqual(kitchen.volume, 33)

        XCTAssertEqual(try lab.set("kitchen", ["command": "pause"])["status"] as? String, "ok")
        _ = try lab.state("kitchen") { $0["state"] as? String == "paused" }
        XCTAssertEqual(try lab.set("kitchen", ["command": "next"])["status"] as? String, "ok")
        let ok1 = await kitchen.waitUntil { $0.currentTrack == 2 }
        XCTAssertTrue(ok1)

        XCTAssertEqual(try lab.set("office", ["command": "joingroup", "group": "kitchen"])["status"] as? String, "ok")
        _ = try lab.state("office") { ($0["group"] as? [String: Any])?["coordinator"] as? String == "kitchen" }
        // A transport command to the member goes to its coordinator (the fake records a
        // violation if a member is sent one).
        XCTAssertEqual(try lab.set("office", ["command": "play"])["status"] as? String, "ok")
        _ = try lab.state("kitchen") { $0["state"] as? String == "playing" }
        XCTAssertEqual(try lab.set("office", ["command": "leavegroup"])["status"] as? String, "ok")
        _ = try lab.state("office") { ($0["group"] as? [String: Any])?["coordinator"] as? String == "office" }

        let bad = try lab.set("kitchen", ["command": "playmode", "mode": "sideways"])
        XCTAssertEqual(bad["status"] as? String, "error")
        XCTAssertTrue((bad["error"] as? String ?? "\(bad)").contains("unknown play mode"), "\(bad)")
        XCTAssertEqual(try lab.set("kitchen", ["command": "playmode", "mode": "shuffle"])["status"] as? String, "ok")
        let ok2 = await kitchen.waitUntil { $0.playMode == "SHUFFLE" }
        XCTAssertTrue(ok2)
        XCTAssertEqual(kitchen.violations + office.violations, [])
    }

    func testSubscriptionsAreRenewedAndStartedAgainAfterAReboot() async throws {
        let lab = try await sonosLab([.init(name: "Kitchen")], settings: ["subscription_timeout": 4])
        let kitchen = lab.household.players[0]
        try lab.availability("kitchen", "online")
        let ok3 = await kitchen.waitUntil { $0.subscriptions.count == 3 }
        XCTAssertTrue(ok3, "\(kitchen.subscriptions)")
        let first = Set(kitchen.subscriptions.map(\.sid))
        // Past one lifetime: still the same three subscriptions, so they were renewed.
        try await Task.sleep(for: .seconds(5))
        XCTAssertEqual(Set(kitchen.subscriptions.map(\.sid)), first)
        XCTAssertGreaterThan(kitchen.calls("GetZoneGroupState").count, 0)
        // A reboot forgets them: the refused renewal (412) leads to new ones, and events flow again.
        await kitchen.goOffline()
        try await kitchen.comeBack(rebooted: true)
        let ok4 = await kitchen.waitUntil(timeout: 10) { $0.subscriptions.count == 3 && Set($0.subscriptions.map(\.sid)).isDisjoint(with: first) }
        XCTAssertTrue(ok4)
        kitchen.volume = 44
        _ = try lab.state("kitchen") { $0["volume"] as? Int == 44 }
    }

    // MARK: The local audioClip API

    /// Waits until the driver has asked the player for its local API (and the answer had time to
    /// arrive): an announcement before that would rightly go the UPnP way.
    func waitForAudioClipProbe(_ player: FakeSonosPlayer) async throws {
        let asked = await player.waitUntil(timeout: 10) { $0.audioClipInfoRequests > 0 }
        XCTAssertTrue(asked, "the driver never asked for /api/v1/players/local/info")
        try await Task.sleep(for: .milliseconds(500))
    }

    func testAnAudioClipPlayerPlaysTheAnnouncementOverItsMusic() async throws {
        let lab = try await sonosLab([.init(name: "Kitchen", volume: 20, audioClip: true)]) {
            ["audio_clip_port": $0.players[0].audioClipPort ?? 0]
        }
        let kitchen = lab.household.players[0]
        let tracks = (1...5).map { QueueTrack(uri: "x-sonos-http:track\($0).mp3?sid=9&flags=8224&sn=1", title: "Song \($0)") }
        kitchen.setState(.queue(tracks: tracks, track: 3, position: 42), transport: .playing)
        try lab.availability("kitchen", "online")
        try await waitForAudioClipProbe(kitchen)
        let queueURI = kitchen.avTransportURI
        try lab.say("ac1", "The laundry is done.", to: ["kitchen"], volume: 45)
        let final = try lab.final("ac1")
        XCTAssertEqual(final["state"] as? String, "done", "\(final)")
        XCTAssertEqual(kitchen.audioClips.count, 1, "\(kitchen.audioClips)")
        let clip = try XCTUnwrap(kitchen.audioClips.first)
        XCTAssertEqual(clip.status, "DONE", "the driver waited for the clip's end")
        XCTAssertNil(clip.fetched?.error)
        XCTAssertGreaterThan(clip.fetched?.duration ?? 0, 0.5, "a real WAV with speech")
        XCTAssertEqual(clip.volume, 45)
        XCTAssertEqual(clip.priority, "HIGH")
        XCTAssertEqual(clip.clipType, "CUSTOM")
        XCTAssertEqual(kitchen.fetchedClips, [], "nothing went the UPnP way")
        for action in ["SetAVTransportURI", "Play", "Seek", "SetVolume", "SetMute", "BecomeCoordinatorOfStandaloneGroup"] {
            XCTAssertEqual(kitchen.calls(action), [], "\(action) was sent")
        }
        XCTAssertEqual(kitchen.transportState, .playing, "the music kept playing (ducked)")
        XCTAssertEqual(kitchen.avTransportURI, queueURI)
        XCTAssertEqual(kitchen.currentTrack, 3)
        XCTAssertEqual(kitchen.volume, 20)
        XCTAssertEqual(kitchen.audioClipRejectedHandshakes, [])
        XCTAssertEqual(kitchen.violations, [])
    }

    func testARefusedAudioClipFallsBackToUPnPAndRestores() async throws {
        let lab = try await sonosLab([.init(name: "Kitchen", volume: 20, audioClip: true)]) {
            ["audio_clip_port": $0.players[0].audioClipPort ?? 0]
        }
        let kitchen = lab.household.players[0]
        let tracks = (1...5).map { QueueTrack(uri: "x-sonos-http:track\($0).mp3?sid=9&flags=8224&sn=1", title: "Song \($0)") }
        kitchen.setState(.queue(tracks: tracks, track: 2, position: 30), transport: .playing)
        try lab.availability("kitchen", "online")
        try await waitForAudioClipProbe(kitchen)
        kitchen.failAudioClip = true
        let queueURI = kitchen.avTransportURI
        try lab.say("ac2", "The garage door is open.", to: ["kitchen"], volume: 50)
        let final = try lab.final("ac2")
        XCTAssertEqual(final["state"] as? String, "done", "\(final)")
        XCTAssertEqual(kitchen.audioClips.map(\.status), ["REFUSED"], "the audioClip API was tried first")
        XCTAssertEqual(kitchen.fetchedClips.count, 1, "then UPnP played it")
        XCTAssertNil(kitchen.fetchedClips.first?.error)
        XCTAssertEqual(kitchen.calls("SetAVTransportURI").map { $0.args["CurrentURI"] ?? "" }.last, queueURI,
                       "the queue was put back")
        XCTAssertEqual(kitchen.avTransportURI, queueURI)
        XCTAssertEqual(kitchen.currentTrack, 2)
        XCTAssertEqual(kitchen.transportState, .playing)
        XCTAssertEqual(kitchen.volume, 20)
        XCTAssertEqual(kitchen.calls("SetVolume").map { $0.args["DesiredVolume"] }, ["50", "20"])
        XCTAssertEqual(kitchen.violations, [])
    }

    func testAPlayerWithoutTheAudioClipAPIUsesUPnP() async throws {
        // Both players answer on 127.0.0.1; only the kitchen has the API. The office's probe
        // reaches the kitchen's port and gets the kitchen's playerId: the driver must not take
        // that for the office's.
        let lab = try await sonosLab([.init(name: "Kitchen", audioClip: true), .init(name: "Office", volume: 25)]) {
            ["audio_clip_port": $0.players[0].audioClipPort ?? 0]
        }
        let (kitchen, office) = (lab.household.players[0], lab.household.players[1])
        office.setState(.radio(uri: "x-sonosapi-stream:s12345?sid=254&flags=8224&sn=0", metadata: radioMetadata(title: "Jazz FM")))
        try lab.availability("kitchen", "online")
        try lab.availability("office", "online")
        let asked = await kitchen.waitUntil(timeout: 10) { $0.audioClipInfoRequests >= 2 }
        XCTAssertTrue(asked, "both players were asked (\(kitchen.audioClipInfoRequests))")
        try await Task.sleep(for: .milliseconds(500))
        try lab.say("ac3", "Dinner is ready.", to: ["office"], volume: 30)
        let final = try lab.final("ac3")
        XCTAssertEqual(final["state"] as? String, "done", "\(final)")
        XCTAssertEqual(kitchen.audioClips, [], "no clip went to another player's API")
        XCTAssertEqual(office.fetchedClips.count, 1)
        XCTAssertEqual(office.calls("SetAVTransportURI").count, 2, "the clip, then the radio back")
        XCTAssertEqual(office.avTransportURI, "x-sonosapi-stream:s12345?sid=254&flags=8224&sn=0")
        XCTAssertEqual(office.transportState, .playing)
        XCTAssertEqual(office.volume, 25)
        XCTAssertEqual(office.violations + kitchen.violations, [])
    }
}
