/// What every discovery config of one bridge shares: the topics it points at, its ids, the bridge
/// device, the origin block and the bridge's availability.
public struct DiscoveryContext: Sendable, Equatable {
    public let prefix: String
    public let topics: Topics
    public let clientID: String
    public let version: String

    public init(prefix: String, baseTopic: String, clientID: String, version: String = SpeakerbridgeVersion.current) {
        self.prefix = prefix
        self.topics = Topics(base: baseTopic)
        self.clientID = clientID
        self.version = version
    }

    /// The discovery topics' node level and the prefix of every unique id: one per installation.
    public var node: String { DiscoveryNames.token(clientID) }

    public var bridgeIdentifier: String { "speakerbridge_\(node)" }

    /// Sent in every config: Home Assistant logs who published a config by it (and device-based
    /// discovery requires it).
    public var origin: JSONValue { ["name": "speakerbridge", "sw": .string(version)] }

    public var bridgeDevice: JSONValue {
        ["identifiers": [.string(bridgeIdentifier)], "name": "speakerbridge", "manufacturer": "speakerbridge",
         "model": "speakerbridge", "sw_version": .string(version)]
    }

    /// `bridge/state` is a JSON document (`{"state":"online"}`), so its availability needs a template.
    public var bridgeAvailability: JSONValue {
        ["topic": .string(topics.bridgeState), "value_template": "{{ value_json.state }}"]
    }

    /// Retained `{"pending": N}`: unfinished announcements in the journal (the pending sensor).
    public var announcementsState: String { "\(topics.base)/bridge/announcements" }

    public var pluginReload: String { topics.request("plugins/reload") }

    /// The keys every config carries, plus the entity's own.
    func entity(unique key: String, objectID: String, name: JSONValue, device: JSONValue,
                availability: [JSONValue], fields: [String: JSONValue]) -> JSONValue {
        var o = fields
        o["unique_id"] = .string(key)
        o["object_id"] = .string(objectID)
        o["name"] = name
        o["device"] = device
        o["o"] = origin
        if !availability.isEmpty {
            o["availability"] = .array(availability)
            if availability.count > 1 { o["availability_mode"] = "all" }
        }
        return .object(o)
    }
}
