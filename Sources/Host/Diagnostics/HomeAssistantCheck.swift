import Foundation

/// Home Assistant discovery as the daemon sees it: its `bridge/info` carries
/// `"homeassistant": {"enabled", "prefix", "configs", "birth_seen"}`; a birth message on
/// `<prefix>/status` means Home Assistant listens on this broker with this prefix.
enum HomeAssistantCheck {
    static func check(_ config: Configuration, _ daemon: DaemonAnswers) -> DoctorCheck {
        let name = "home assistant"
        guard case .data(let info) = daemon.info else { return .warn(name, daemon.silence(config), fix: nil) }
        guard let ha = info["homeassistant"]?.objectValue else {
            return .warn(name, "the daemon's bridge/info says nothing about Home Assistant: it is older than discovery",
                         fix: "update and restart the daemon")
        }
        let prefix = ha["prefix"]?.stringValue ?? config.homeAssistant.discoveryPrefix
        guard ha["enabled"] == .bool(true) else {
            return .ok(name, "discovery is off (homeassistant.enabled: false)")
        }
        let configs = Int(ha["configs"]?.numberValue ?? 0)
        guard let seen = ha["birth_seen"]?.stringValue else {
            return .warn(name, "no birth message from Home Assistant on \(prefix)/status since the daemon started",
                         details: ["\(configs) discovery configs are published under \(prefix)/; Home Assistant sees them only if its MQTT integration uses this broker and this prefix"],
                         fix: "in Home Assistant, connect the MQTT integration to \(config.brokerHost):\(config.brokerPort) with discovery prefix \(prefix) (or set homeassistant.discovery_prefix)")
        }
        return .ok(name, "Home Assistant said online on \(prefix)/status at \(seen); \(configs) discovery configs published")
    }
}
