import Synchronization

/// The latest retained message of every topic the plugins publish (speaker state, availability),
/// so they can be published again when a subscriber needs them anew: Home Assistant after its birth
/// message, when the broker may have lost its retained store.
///
/// Bounded: past `maxTopics` a new topic is not remembered (existing ones still update), and an
/// empty retained payload (a clear) forgets its topic.
public final class RetainedStates: Sendable {
    private struct State {
        var latest: [String: OutboundMessage] = [:]
        var order: [String] = []
        var refused = 0
    }

    private let state = Mutex(State())
    let maxTopics: Int

    public init(maxTopics: Int = 4096) {
        self.maxTopics = maxTopics
    }

    /// Remembers `message` when it is retained. True only the first time the bound refuses a new
    /// topic: worth one log line, not one per message.
    @discardableResult
    func remember(_ message: OutboundMessage) -> Bool {
        guard message.retain else { return false }
        return state.withLock { s in
            if message.payload.isEmpty {
                if s.latest.removeValue(forKey: message.topic) != nil { s.order.removeAll { $0 == message.topic } }
                return false
            }
            if s.latest[message.topic] == nil {
                guard s.order.count < maxTopics else {
                    s.refused += 1
                    return s.refused == 1
                }
                s.order.append(message.topic)
            }
            s.latest[message.topic] = message
            return false
        }
    }

    /// Every remembered message, in the order their topics first appeared.
    public var all: [OutboundMessage] {
        state.withLock { s in s.order.compactMap { s.latest[$0] } }
    }
}
