/// The bridge device's entities: announce on every speaker, connectivity, version, pending
/// announcements, reload plugins, and the announcement event.
public enum BridgeEntities {
    /// HA's notify entity publishes only the message; wrapping it as `{"text": …}` keeps a message
    /// that happens to look like JSON from being read as a request.
    static let speakTemplate = "{\"text\": {{ value | to_json }}}"

    /// The announcement event (`{"id","state",…}`) as Home Assistant's event entity wants it: the
    /// event type under `event_type`, the rest as attributes. Only fields every event has are read.
    static let eventTemplate =
        "{{ {'event_type': value_json.state, 'id': value_json.id, 'speakers': value_json.speakers, "
        + "'reason': value_json.reason if value_json.reason is defined else none} | to_json }}"

    public static func configs(_ c: DiscoveryContext) -> [DiscoveryConfig] {
        let device = c.bridgeDevice
        let available = [c.bridgeAvailability]
        func make(_ component: String, _ key: String, name: String, availability: [JSONValue] = available,
                  _ fields: [String: JSONValue]) -> DiscoveryConfig {
            DiscoveryConfig(component: component, object: "bridge_\(key)",
                            payload: c.entity(unique: "\(c.node)_bridge_\(key)", objectID: "speakerbridge_\(key)",
                                              name: .string(name), device: device, availability: availability, fields: fields))
        }
        return [
            make("notify", "announce", name: "Announce", [
                "command_topic": .string(c.topics.speak), "command_template": .string(speakTemplate), "qos": 1,
            ]),
            // No availability: while the bridge is offline this reads "disconnected", not "unavailable".
            make("binary_sensor", "connected", name: "Connected", availability: [], [
                "state_topic": .string(c.topics.bridgeState), "value_template": "{{ value_json.state }}",
                "payload_on": "online", "payload_off": "offline", "device_class": "connectivity",
                "entity_category": "diagnostic",
            ]),
            make("sensor", "version", name: "Version", [
                "state_topic": .string(c.topics.bridgeInfo), "value_template": "{{ value_json.version }}",
                "entity_category": "diagnostic", "icon": "mdi:tag",
            ]),
            make("sensor", "pending_announcements", name: "Pending announcements", [
                "state_topic": .string(c.announcementsState), "value_template": "{{ value_json.pending }}",
                "state_class": "measurement", "icon": "mdi:playlist-play",
            ]),
            make("button", "reload_plugins", name: "Reload plugins", [
                "command_topic": .string(c.pluginReload), "payload_press": "{}", "qos": 1,
                "entity_category": "config", "icon": "mdi:reload",
            ]),
            make("event", "announcement", name: "Announcement", [
                "state_topic": .string(c.topics.announcementEvents), "value_template": .string(eventTemplate),
                "event_types": ["queued", "playing", "done", "failed"], "icon": "mdi:bullhorn",
            ]),
        ]
    }
}
