/// One entity's retained discovery config: `<prefix>/<component>/<node>/<object>/config`.
public struct DiscoveryConfig: Sendable, Equatable {
    /// `notify`, `number`, `switch`, `button`, `select`, `sensor`, `binary_sensor`, `event`.
    public let component: String
    /// The topic's object level, unique within the bridge's node (`bridge_announce`,
    /// `speaker_kitchen_volume`).
    public let object: String
    public let payload: JSONValue

    public init(component: String, object: String, payload: JSONValue) {
        self.component = component
        self.object = object
        self.payload = payload
    }

    public func topic(prefix: String, node: String) -> String { "\(prefix)/\(component)/\(node)/\(object)/config" }
}
