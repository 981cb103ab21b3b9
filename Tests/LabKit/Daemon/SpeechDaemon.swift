import Foundation

/// A daemon with the espeak-ng TTS plugin and speakers, for the tests of the edges (deduplication,
/// limits, quarantine, response topics): announcements go in as MQTT messages, events come out.
extension PluginDaemon {
    public static func speech(settings: [String: String] = [:], speakers: [String] = ["Kitchen"],
                              extra: (_ pluginDir: String, _ scratch: String) throws -> Void = { _, _ in }) throws -> PluginDaemon {
        try PluginDaemon(settings: ["media.bind": "127.0.0.1"].merging(settings) { $1 }) { dir, scratch in
            try PluginBuild.ttsPlugin(to: dir + "/tts-espeak.so")
            try writeJSON(["cache_dir": scratch + "/tts-cache"], to: dir + "/tts-espeak.json")
            if !speakers.isEmpty {
                try PluginBuild.logSpeaker(to: dir + "/log-speaker.so")
                try writeJSON(["log": scratch + "/speakers.txt", "speakers": speakers], to: dir + "/log-speaker.json")
            }
            try extra(dir, scratch)
        }
    }

    public var eventsTopic: String { "\(base)/bridge/event/announcement" }

    public func announce(_ body: [String: Any], qos: Int = 1) throws {
        try client.publish(topic: "\(base)/speak", payload: try JSONSerialization.data(withJSONObject: body).map { $0 }, qos: qos)
    }

    /// Every final (`done`/`failed`) event so far.
    public func finals() -> [[String: Any]] {
        client.messages(on: eventsTopic).map(json).filter { ["done", "failed"].contains($0["state"] as? String ?? "") }
    }

    public func finals(id: String) -> [[String: Any]] { finals().filter { $0["id"] as? String == id } }

    @discardableResult
    public func waitForFinal(id: String, timeout: Double = 30) throws -> [String: Any] {
        json(try client.waitFor(eventsTopic, timeout: timeout) {
            let j = json($0)
            return j["id"] as? String == id && ["done", "failed"].contains(j["state"] as? String ?? "")
        })
    }

    /// The daemon's `health` data.
    public func health() throws -> [String: Any] { try request("health")["data"] as? [String: Any] ?? [:] }
}
