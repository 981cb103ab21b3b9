/// Where the session hands each incoming message, inside libmosquitto's message callback and so
/// before the broker gets its PUBACK. Declared here, kept by the MQTT contract (`RequestIntake`):
/// the session moves bytes and knows nothing of what a request means.
public protocol MessageIntake: Sendable {
    /// false only when the message could not be recorded: the session then keeps it from being
    /// acknowledged, so the broker delivers it again.
    ///
    /// `payload` is libmosquitto's buffer, valid only during the call.
    func receive(topic: String, payload: UnsafeRawBufferPointer, qos: Int32, mid: Int32,
                 responseTopic: String?, correlationData: [UInt8]?) -> Bool
}
