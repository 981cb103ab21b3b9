import FakeSonos
import Foundation
import LabKit
import XCTest

/// The Sonos-only typed commands end to end: the real daemon with the Sonos driver against the
/// fake household. Each command reaches the player with the real action and arguments, the
/// player's state changes, and commands that read (favorites, alarms, raw UPnP) bring the values
/// back in the driver's `command` event. Bad arguments are refused by the daemon from the
/// signature; a plain renderer's refusal is in RendererDriverTests.
final class SonosCommandTests: XCTestCase {
    static let pluginID = "org.speakerbridge.sonos"

    private func commandLab(_ players: [FakeSonosPlayerOptions]) async throws -> SonosLab {
        let lab = try await sonosLab(players, quirks: .real)
        try lab.client.subscribe("\(lab.base)/bridge/event/plugin/\(Self.pluginID)/command")
        for p in lab.household.players { try lab.availability(speakerID(p.name), "online") }
        return lab
    }

    private func speakerID(_ name: String) -> String { name.lowercased().replacingOccurrences(of: " ", with: "_") }

    /// Sends a command to a speaker, checks the daemon took it, and returns the driver's verdict.
    @discardableResult
    private func run(_ lab: SonosLab, _ speaker: String, _ body: [String: Any], ok: Bool = true,
                     file: StaticString = #filePath, line: UInt = #line) throws -> [String: Any] {
        let since = ContinuousClock.now
        let answer = try lab.set(speaker, body)
        XCTAssertEqual(answer["status"] as? String, "ok", "\(body) → \(answer)", file: file, line: line)
        return try verdict(lab, body["command"] as? String ?? "", since: since, ok: ok, file: file, line: line)
    }

    /// The driver's `command` event for a command sent at `since`, with the outcome expected. The
    /// outcome is part of the match: events are published at least once, so after a reconnect the
    /// previous command's event can arrive again, and two commands of one name in a row (alarm 4,
    /// then alarm 9) are told apart by it. Without a match, the events seen are in the failure.
    private func verdict(_ lab: SonosLab, _ command: String, speaker: String? = nil, since: ContinuousClock.Instant,
                         ok: Bool = true, file: StaticString = #filePath, line: UInt = #line) throws -> [String: Any] {
        let topic = "\(lab.base)/bridge/event/plugin/\(Self.pluginID)/command"
        let ours: (ReceivedMessage) -> Bool = {
            let j = json($0)
            return $0.receivedAt >= since && j["command"] as? String == command && (speaker == nil || j["speaker"] as? String == speaker)
        }
        do {
            return json(try lab.client.waitFor(topic, timeout: 5) { ours($0) && json($0)["ok"] as? Bool == ok })
        } catch {
            let seen = lab.client.messages(on: topic).filter(ours).map { String(decoding: $0.payload, as: UTF8.self) }
            XCTFail("no \(command) event with ok \(ok) within 5 s; \(command) events since it was sent: \(seen)", file: file, line: line)
            throw error
        }
    }

    func testSoundSettingsSleepTimerCrossfadeAndTVReachThePlayer() async throws {
        let lab = try await commandLab([.init(name: "Kitchen"), .init(name: "Den", model: .beam)])
        let (kitchen, den) = (lab.household.players[0], lab.household.players[1])
        kitchen.setState(.queue(tracks: [QueueTrack(uri: "x-sonos-http:a.mp3")], track: 1, position: 0), transport: .playing)

        try run(lab, "kitchen", ["command": "bass", "level": -3])
        try run(lab, "kitchen", ["command": "treble", "level": 4])
        try run(lab, "kitchen", ["command": "loudness", "on": false])
        XCTAssertEqual([kitchen.bass, kitchen.treble], [-3, 4])
        XCTAssertFalse(kitchen.loudness)
        try run(lab, "kitchen", ["command": "crossfade", "on": true])
        XCTAssertTrue(kitchen.crossfade)
        try run(lab, "kitchen", ["command": "sleep", "minutes": 30])
        XCTAssertTrue(["00:30:00", "00:29:59"].contains(kitchen.sleepTimerRemaining), kitchen.sleepTimerRemaining)
        try run(lab, "kitchen", ["command": "sleep", "minutes": 0])
        XCTAssertEqual(kitchen.sleepTimerRemaining, "", "0 cancels")

        // Home theater: the soundbar takes night mode, speech enhancement and its TV input.
        try run(lab, "den", ["command": "nightmode", "on": true])
        try run(lab, "den", ["command": "speechenhancement", "on": true])
        XCTAssertEqual([den.eq("NightMode"), den.eq("DialogLevel")], [1, 1])
        try run(lab, "den", ["command": "tv"])
        XCTAssertEqual(den.avTransportURI, "x-sonos-htastream:\(den.uuid):spdif")
        XCTAssertEqual(den.transportState, .playing)
        // …a speaker without HTControl is refused before anything is sent.
        let refused = try lab.set("kitchen", ["command": "nightmode", "on": true])
        XCTAssertEqual(refused["status"] as? String, "error")
        XCTAssertTrue((refused["error"] as? String ?? "").contains("not supported by this device: Kitchen is not a soundbar"),
                      "\(refused)")
        XCTAssertTrue(kitchen.calls("SetEQ").isEmpty)
        // The daemon checks the arguments against the signature: the driver never sees these.
        for bad: [String: Any] in [["command": "bass", "level": 11], ["command": "sleep", "minutes": -1],
                                   ["command": "crossfade", "on": "yes"], ["command": "treble"]] {
            let answer = try lab.set("kitchen", bad)
            XCTAssertEqual(answer["status"] as? String, "error", "\(bad) → \(answer)")
        }
        XCTAssertTrue(kitchen.calls("SetBass").count == 1 && kitchen.calls("SetTreble").count == 1)
        XCTAssertEqual(kitchen.violations + den.violations, [])
    }

    func testFavoritesPlaylistsLineInAndTheQueue() async throws {
        let lab = try await commandLab([.init(name: "Kitchen"), .init(name: "Den", model: .play5)])
        let (kitchen, den) = (lab.household.players[0], lab.household.players[1])
        let radio = FakeSonosFavorite.radio("Radio Swiss Jazz")
        lab.household.setFavorites([radio, .album("Kind of Blue", tracks: 3)])
        lab.household.setPlaylists([FakeSonosPlaylist(id: 3, title: "Sunday", tracks: [
            QueueTrack(uri: "x-file-cifs://nas/one.flac"), QueueTrack(uri: "x-file-cifs://nas/two.flac")])])

        // A station: set as the URI with the favorite's own metadata, then played.
        let station = try run(lab, "kitchen", ["command": "favorite", "name": "radio swiss jazz"])
        XCTAssertEqual((station["values"] as? [String: Any])?["title"] as? String, "Radio Swiss Jazz")
        XCTAssertEqual(kitchen.avTransportURI, radio.uri)
        XCTAssertEqual(kitchen.avTransportURIMetaData, radio.metadata)
        XCTAssertEqual(kitchen.transportState, .playing)
        // An album: through the queue (the empty queue's 804 does not stop it).
        try run(lab, "kitchen", ["command": "favorite", "name": "Kind of Blue"])
        XCTAssertEqual(kitchen.queueURIs.count, 3)
        XCTAssertEqual(kitchen.avTransportURI, "x-rincon-queue:\(kitchen.uuid)#0")
        XCTAssertEqual(kitchen.transportState, .playing)
        XCTAssertEqual(kitchen.calls("RemoveAllTracksFromQueue").map(\.faultCode), [804])
        let missing = try run(lab, "kitchen", ["command": "favorite", "name": "Bach"], ok: false)
        XCTAssertTrue((missing["reason"] as? String ?? "").contains("no favorite titled \"Bach\" (there are: \"Radio Swiss Jazz\", "
                                                                     + "\"Kind of Blue\")"), "\(missing)")
        // A Sonos playlist replaces the queue.
        try run(lab, "kitchen", ["command": "playlist", "name": "Sunday"])
        XCTAssertEqual(kitchen.queueURIs, ["x-file-cifs://nas/one.flac", "x-file-cifs://nas/two.flac"])
        let added = try run(lab, "kitchen", ["command": "queueadd", "uri": "http://127.0.0.1/three.mp3"])
        XCTAssertEqual((added["values"] as? [String: Any])?["NewQueueLength"] as? String, "3")
        XCTAssertEqual(kitchen.queueURIs.last, "http://127.0.0.1/three.mp3")

        // The Play:5's line-in on the kitchen, then back to the queue.
        try run(lab, "kitchen", ["command": "linein", "from": "den"])
        XCTAssertEqual(kitchen.avTransportURI, "x-rincon-stream:\(den.uuid)")
        XCTAssertEqual(kitchen.transportState, .playing)
        try run(lab, "kitchen", ["command": "queue"])
        XCTAssertEqual(kitchen.avTransportURI, "x-rincon-queue:\(kitchen.uuid)#0")
        try run(lab, "kitchen", ["command": "queueclear"])
        XCTAssertEqual(kitchen.queueURIs, [])
        try run(lab, "kitchen", ["command": "queueclear"]) // already empty: done all the same
        let noLineIn = try lab.set("den", ["command": "linein", "from": "kitchen"])
        XCTAssertTrue((noLineIn["error"] as? String ?? "").contains("Kitchen has no line-in"), "\(noLineIn)")
        XCTAssertEqual(kitchen.violations + den.violations, [])
    }

    func testGroupVolumePauseAllResumeAllAlarmsAndRawUPnP() async throws {
        let lab = try await commandLab([.init(name: "Kitchen", volume: 20), .init(name: "Office", volume: 40),
                                        .init(name: "Den")])
        let (kitchen, office, den) = (lab.household.players[0], lab.household.players[1], lab.household.players[2])
        kitchen.setState(.queue(tracks: [QueueTrack(uri: "x-sonos-http:a.mp3")], track: 1, position: 0), transport: .playing)
        den.setState(.radio(uri: "x-sonosapi-stream:s1?sid=254", metadata: radioMetadata(title: "R")), transport: .pausedPlayback)
        lab.household.join(office, to: kitchen)
        _ = try lab.state("office") { ($0["group"] as? [String: Any])?["coordinator"] as? String == "kitchen" }
        _ = try lab.state("kitchen") { $0["state"] as? String == "playing" }
        _ = try lab.state("den") { $0["state"] as? String == "paused" }

        // Group volume: sent to the coordinator, the members scaled in proportion.
        let up = try run(lab, "office", ["command": "groupvolumeup", "step": 10])
        XCTAssertEqual((up["values"] as? [String: Any])?["NewVolume"] as? String, "40")
        XCTAssertEqual([kitchen.volume, office.volume], [27, 53])
        XCTAssertEqual(kitchen.calls("SnapshotGroupVolume").count, 1)

        // Pause all pauses the playing group only (the den was paused by hand); resume all plays
        // that one again and leaves the den paused.
        var since = ContinuousClock.now
        let paused = try lab.daemon.request("plugin/\(Self.pluginID)/pauseall")
        XCTAssertEqual((paused["data"] as? [String: Any])?["to"] as? [String], ["kitchen"], "\(paused)")
        try verdict(lab, "pauseall", speaker: "kitchen", since: since)
        XCTAssertEqual(kitchen.transportState, .pausedPlayback)
        _ = try lab.state("kitchen") { $0["state"] as? String == "paused" }
        since = ContinuousClock.now
        let resumed = try lab.daemon.request("plugin/\(Self.pluginID)/resumeall")
        XCTAssertEqual((resumed["data"] as? [String: Any])?["to"] as? [String], ["kitchen"], "\(resumed)")
        try verdict(lab, "resumeall", speaker: "kitchen", since: since)
        XCTAssertEqual(kitchen.transportState, .playing)
        XCTAssertEqual(den.transportState, .pausedPlayback)
        XCTAssertTrue(den.calls("Play").isEmpty && den.calls("Pause").isEmpty)

        // Alarms: the list comes back in the event; one is switched off; a ringing one snoozed.
        lab.household.setAlarms([FakeSonosAlarm(id: 4, recurrence: "WEEKDAYS", roomUUID: kitchen.uuid)])
        since = ContinuousClock.now
        XCTAssertEqual(try lab.daemon.request("plugin/\(Self.pluginID)/alarms")["status"] as? String, "ok")
        let list = try verdict(lab, "alarms", since: since)
        let alarms = (list["values"] as? [String: Any])?["alarms"] as? [[String: Any]] ?? []
        XCTAssertEqual(alarms.first?["speaker"] as? String, "kitchen", "\(list)")
        XCTAssertEqual(alarms.first?["enabled"] as? Bool, true)
        try run(lab, "den", ["command": "alarm", "id": 4, "enabled": false])
        XCTAssertEqual(lab.household.alarms.first?.enabled, false)
        XCTAssertEqual(lab.household.alarms.first?.recurrence, "WEEKDAYS", "the rest written back unchanged")
        let unknown = try run(lab, "den", ["command": "alarm", "id": 9, "enabled": true], ok: false)
        XCTAssertTrue((unknown["reason"] as? String ?? "").contains("no alarm with id 9"), "\(unknown)")
        kitchen.ringAlarm(4)
        try run(lab, "kitchen", ["command": "snooze", "minutes": 10])
        XCTAssertEqual(kitchen.snoozedFor, "00:10:00")

        // Raw UPnP for what is not covered: the answer's values in the event.
        try run(lab, "kitchen", ["command": "bass", "level": 6])
        let raw = try run(lab, "kitchen", ["command": "upnp", "service": "RenderingControl", "action": "GetBass",
                                           "args": "{\"InstanceID\":0}"])
        XCTAssertEqual((raw["values"] as? [String: Any])?["CurrentBass"] as? String, "6", "\(raw)")
        let fault = try run(lab, "office", ["command": "upnp", "service": "grc", "action": "SetGroupVolume",
                                            "args": "{\"InstanceID\":0,\"DesiredVolume\":10}"], ok: false)
        XCTAssertTrue((fault["reason"] as? String ?? "").contains("UPnP error 701: player isn't the coordinator"), "\(fault)")
        XCTAssertEqual(kitchen.violations + den.violations, [])
    }
}
