import FakeSonos
import Foundation
import LabKit
import XCTest

/// The daemon with the Sonos driver (and the espeak-ng TTS plugin) against a fake household on
/// loopback: the driver gets the players as static addresses, discovery is off, nothing is
/// multicast. Shared by every Sonos driver test class.
struct SonosLab {
    let household: FakeSonosHousehold
    let daemon: PluginDaemon
    var base: String { daemon.base }
    var client: TestClient { daemon.client }

    func say(_ id: String, _ text: String, to speakers: [String], volume: Int? = nil) throws {
        var body: [String: Any] = ["id": id, "text": text, "speakers": speakers]
        if let volume { body["volume"] = volume }
        try client.publish(topic: "\(base)/speak", payload: try JSONSerialization.data(withJSONObject: body).map { $0 }, qos: 1)
    }

    @discardableResult
    func final(_ id: String, timeout: Double = 30) throws -> [String: Any] {
        json(try client.waitFor("\(base)/bridge/event/announcement", timeout: timeout) {
            let j = json($0)
            return j["id"] as? String == id && ["done", "failed"].contains(j["state"] as? String ?? "")
        })
    }

    /// Waits for `value` on the speaker's availability, received after `after` (default: any).
    func availability(_ speaker: String, _ value: String, after: ContinuousClock.Instant? = nil, timeout: Double = 15) throws {
        _ = try client.waitFor("\(base)/\(speaker)/availability", timeout: timeout) {
            $0.text == value && (after == nil || $0.receivedAt > after!)
        }
    }

    func state(_ speaker: String, timeout: Double = 10, _ condition: @escaping ([String: Any]) -> Bool) throws -> [String: Any] {
        do {
            return json(try client.waitFor("\(base)/\(speaker)/state", timeout: timeout) { condition(json($0)) })
        } catch {
            let events = household.players.map { "\($0.name): \($0.eventsSent.map { "\($0.service)#\($0.seq)→\($0.status.map(String.init) ?? "-")" })" }
            print("state of \(speaker) not reached; events sent: \(events)\n--- daemon log:\n\(daemon.daemon.log().suffix(4000))")
            throw error
        }
    }

    func set(_ speaker: String, _ body: [String: Any]) throws -> [String: Any] {
        let transaction = "t-\(UUID().uuidString)"
        var b = body
        b["transaction"] = transaction
        try client.publish(topic: "\(base)/\(speaker)/set", payload: try JSONSerialization.data(withJSONObject: b).map { $0 }, qos: 1)
        return json(try client.waitFor("\(base)/\(speaker)/set/response", timeout: 10) { json($0)["transaction"] as? String == transaction })
    }
}

extension XCTestCase {
    /// `householdSettings`: settings that depend on the started household (its ephemeral ports).
    /// `quirks`: which real-player behaviours the fake household shows (default none).
    /// `addressing`: where the players listen (default 127.0.0.1 at random ports;
    /// `FakeSonosAddressing.randomLoopback()` for players on <127.x.y>.N:1400).
    /// `daemonSettings`: the daemon's own (the admin listener's, for the browser test).
    func sonosLab(_ players: [FakeSonosPlayerOptions], settings: [String: Any] = [:],
             extraSpeakers: [String] = [], quirks: FakeSonosQuirks = .kind, addressing: FakeSonosAddressing = .ephemeral,
             daemonSettings: [String: String] = [:],
             householdSettings: ((FakeSonosHousehold) -> [String: Any])? = nil) async throws -> SonosLab {
        let household = try await FakeSonosHousehold.start(players: players, quirks: quirks, addressing: addressing)
        addTeardownBlock { await household.stop() }
        let settings = settings.merging(householdSettings?(household) ?? [:]) { $1 }
        let daemonSettings = ["media.bind": "127.0.0.1", "plugins.operation_timeout": "60", "log_level": "debug"].merging(daemonSettings) { $1 }
        let daemon = try PluginDaemon(settings: daemonSettings) { dir, scratch in
            try PluginBuild.ttsPlugin(to: dir + "/tts-espeak.so")
            try writeJSON(["cache_dir": scratch + "/tts-cache"], to: dir + "/tts-espeak.json")
            try PluginBuild.sonosDriver(to: dir + "/sonos.so")
            var config: [String: Any] = ["discovery": false, "speakers": household.staticAddresses + extraSpeakers,
                                         "search_interval": 5, "probe_interval": 1, "soap_timeout": 2,
                                         "announce_margin": 1]
            config.merge(settings) { $1 }
            try writeJSON(config, to: dir + "/sonos.json")
        }
        try daemon.client.subscribe("\(daemon.base)/+/availability")
        try daemon.client.subscribe("\(daemon.base)/+/state")
        return SonosLab(household: household, daemon: daemon)
    }
}
