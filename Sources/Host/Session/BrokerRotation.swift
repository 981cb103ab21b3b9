/// Which broker of `mqtt.brokers` the session tries next, and with which protocol version.
///
/// The session stays on a broker for as long as it holds (no flapping back to the first one once
/// another has taken over) and moves to the next one, in list order and round again, when a
/// connection is lost or refused. With `mqtt.protocol: auto` each broker is asked for MQTT 5 first;
/// one that refuses it is asked again at once with 3.1.1, and what a broker accepted is kept for
/// the life of the process, so a cluster of 3.1.1-only nodes costs one refused CONNECT per node.
struct BrokerRotation: Sendable {
    let brokers: [BrokerAddress]
    let choice: Configuration.ProtocolChoice
    private(set) var index = 0
    /// What each broker accepted (auto only).
    private var learned: [BrokerAddress: Configuration.ProtocolVersion] = [:]
    /// Brokers whose MQTT 5 refusal is being checked with a 3.1.1 attempt.
    private var fallingBack: Set<BrokerAddress> = []

    init(brokers: [BrokerAddress], choice: Configuration.ProtocolChoice) {
        precondition(!brokers.isEmpty, "the configuration always names a broker")
        self.brokers = brokers
        self.choice = choice
    }

    var current: BrokerAddress { brokers[index] }

    /// The version for the next attempt on the current broker.
    var version: Configuration.ProtocolVersion {
        switch choice {
        case .v5: return .v5
        case .v311: return .v311
        case .auto:
            if fallingBack.contains(current) { return .v311 }
            return learned[current] ?? .v5
        }
    }

    /// Whether the current broker's version was found by a fallback (for the log line).
    var negotiatedDown: Bool { choice == .auto && version == .v311 }

    /// The current broker took a CONNECT of `version`.
    mutating func accepted(_ version: Configuration.ProtocolVersion) {
        fallingBack.remove(current)
        if choice == .auto { learned[current] = version }
    }

    /// The current broker refused MQTT 5 (auto only): returns true when a 3.1.1 attempt on the same
    /// broker should follow at once.
    mutating func refusedVersion5() -> Bool {
        guard choice == .auto, version == .v5 else { return false }
        fallingBack.insert(current)
        return true
    }

    /// An attempt failed for another reason, or a connection was lost: move on to the next broker.
    /// A 3.1.1 attempt that also got no CONNACK proves nothing about MQTT 5, so the broker is asked
    /// for 5 again next time. Returns the broker left and the one to try (equal with one broker).
    @discardableResult
    mutating func moveOn() -> (from: BrokerAddress, to: BrokerAddress) {
        let from = current
        fallingBack.remove(from)
        index = (index + 1) % brokers.count
        return (from, current)
    }
}
