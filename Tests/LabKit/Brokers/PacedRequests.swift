import Foundation

extension TestClient {
    /// Publishes `ids` as QoS 1 speak requests (`{"id","text"}`) on `topic` at about `perSecond`,
    /// calling `during(i)` after each (where a test kills a broker or the daemon), then waits until
    /// the broker acknowledged every one: the deliveries the "nothing lost, nothing twice" tests count.
    public func publishSpeakRequests(_ ids: [String], on topic: String, perSecond: Double,
                                     during: (Int) throws -> Void = { _ in }) throws {
        let start = ContinuousClock.now
        for (i, id) in ids.enumerated() {
            try publish(topic: topic, payload: #"{"id":"\#(id)","text":"request \#(i)"}"#, qos: 1)
            try during(i)
            let due = start + .milliseconds(Int(Double(i + 1) * 1000 / perSecond))
            let left = due - .now
            if left > .zero {
                Thread.sleep(forTimeInterval: Double(left.components.seconds) + Double(left.components.attoseconds) / 1e18)
            }
        }
        try waitForAcks(timeout: 120)
    }
}
