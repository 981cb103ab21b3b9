import Foundation

/// The retained `<base>/bridge/info` document and the retained `<base>/bridge/state` birth, both
/// re-published on every connect so a broker that lost its retained store learns them again.
public struct BridgeInfo: Sendable {
    public let config: Configuration
    public let clientID: String
    public let startedAt: Date
    public let plugins: PluginRegistry?
    /// The `homeassistant` object (discovery's state), from the layer above that owns it.
    public let homeAssistant: (@Sendable () -> JSONValue)?

    public init(config: Configuration, clientID: String, startedAt: Date = Date(), plugins: PluginRegistry? = nil,
                homeAssistant: (@Sendable () -> JSONValue)? = nil) {
        self.config = config
        self.clientID = clientID
        self.startedAt = startedAt
        self.plugins = plugins
        self.homeAssistant = homeAssistant
    }

    public func stateDocument(_ status: SessionStatus) -> JSONValue {
        var o: [String: JSONValue] = ["state": "online"]
        if let warning = status.twinWarning {
            o["problem"] = "twin"
            o["warning"] = .string(warning)
        }
        return .object(o)
    }

    public func infoDocument(_ status: SessionStatus) -> JSONValue {
        var o: [String: JSONValue] = [
            "version": .string(SpeakerbridgeVersion.current),
            "client_id": .string(clientID),
            "base_topic": .string(config.baseTopic),
            // Published on each connect: the version this broker took and the broker itself, which
            // with mqtt.brokers is not necessarily the first of the list.
            "mqtt_protocol": .string(status.protocolVersion.rawValue),
            "broker": .string(status.broker.isEmpty ? config.brokerList[0].description : status.broker),
            "brokers": .array((status.brokers.isEmpty ? config.brokerList.map(\.description) : status.brokers).map { .string($0) }),
            "embedded_broker": .bool(config.usesEmbeddedBroker),
            "started_at": .timestamp(startedAt),
            "plugins": plugins?.infoJSON["loaded"] ?? [],
            "rejected_plugins": plugins?.infoJSON["rejected"] ?? [],
            "speakers": .array((plugins?.speakers ?? []).map { ["id": .string($0.id), "name": .string($0.name), "model": .string($0.model)] }),
        ]
        if let warning = status.twinWarning { o["warning"] = .string(warning) }
        if let homeAssistant { o["homeassistant"] = homeAssistant() }
        return .object(o)
    }

    public func infoMessage(_ status: SessionStatus) -> OutboundMessage {
        OutboundMessage(topic: Topics(base: config.baseTopic).bridgeInfo, json: infoDocument(status), retain: true)
    }

    /// What the session publishes first on each connect.
    public func birthMessages(_ status: SessionStatus) -> [OutboundMessage] {
        let topics = Topics(base: config.baseTopic)
        return [
            OutboundMessage(topic: topics.bridgeState, json: stateDocument(status), retain: true),
            infoMessage(status),
        ]
    }
}

/// `<base>/bridge/request/info`: the same document as the retained `bridge/info`.
public struct InfoHandler: BridgeRequestHandler {
    public let name = "info"
    public let isSlow = false
    let info: BridgeInfo
    let status: SessionStatusBox

    public init(info: BridgeInfo, status: SessionStatusBox) {
        self.info = info
        self.status = status
    }

    public func handle(_ request: BridgeRequest) async throws(BridgeRequestError) -> JSONValue {
        info.infoDocument(status.current)
    }
}
