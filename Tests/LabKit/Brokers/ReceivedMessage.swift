/// One PUBLISH as a TestClient received it.
public struct ReceivedMessage: Sendable {
    public let topic: String
    public let payload: [UInt8]
    /// The payload decoded as UTF-8 (invalid bytes become U+FFFD).
    public var text: String { String(decoding: payload, as: UTF8.self) }
    public let qos: Int
    public let retain: Bool
    /// MQTT 5 Response Topic property (nil for v3.1.1 or when absent).
    public let responseTopic: String?
    /// MQTT 5 Correlation Data property (nil for v3.1.1 or when absent).
    public let correlationData: [UInt8]?
    public let receivedAt: ContinuousClock.Instant

    public init(topic: String, payload: [UInt8], qos: Int, retain: Bool, responseTopic: String? = nil,
                correlationData: [UInt8]? = nil, receivedAt: ContinuousClock.Instant = .now) {
        self.topic = topic
        self.payload = payload
        self.qos = qos
        self.retain = retain
        self.responseTopic = responseTopic
        self.correlationData = correlationData
        self.receivedAt = receivedAt
    }
}
