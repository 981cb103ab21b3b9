import Foundation

/// Takes Home Assistant's status messages (`<prefix>/status`) out of the incoming stream before
/// the request intake, which would refuse them as unknown topics; everything else passes on.
public struct BirthIntake: MessageIntake {
    let statusTopic: String
    let next: any MessageIntake
    let birth: @Sendable () -> Void

    public init(prefix: String, next: any MessageIntake, birth: @escaping @Sendable () -> Void) {
        self.statusTopic = "\(prefix)/status"
        self.next = next
        self.birth = birth
    }

    public func receive(topic: String, payload: UnsafeRawBufferPointer, qos: Int32, mid: Int32,
                        responseTopic: String?, correlationData: [UInt8]?) -> Bool {
        guard topic == statusTopic else {
            return next.receive(topic: topic, payload: payload, qos: qos, mid: mid,
                                responseTopic: responseTopic, correlationData: correlationData)
        }
        // Nothing to record: a lost birth only delays a re-publish until the next connect.
        let text = String(decoding: payload.prefix(16), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        if text == "online" { birth() }
        return true
    }
}
