import Synchronization

/// Everything the daemon publishes, as it is recorded for the broker, fanned out to the status
/// page's open event streams; and the last announcements' events for a page that opens later.
///
/// Fed by the spool (`Spool.observeOutbound`) inside its lock, so every stream sees the messages in
/// journal order, the order MQTT subscribers get them in; that is also why `published` does no
/// more than append to each stream's queue.
public final class LiveFeed: Sendable {
    /// A stream this many messages behind is cut off (its client reconnects and replays).
    public static let defaultMaxBehind = 1_000
    /// The same for bytes of payload: a thousand of the largest messages would be 256 MiB.
    public static let defaultMaxBehindBytes = 16 << 20

    private struct State {
        var subscribers: [UInt64: FeedSubscription] = [:]
        var nextID: UInt64 = 0
        var history: AnnouncementHistory
        var cutOff: UInt64 = 0
    }

    private let announcementTopic: String
    let maxBehind: Int
    let maxBehindBytes: Int
    private let state: Mutex<State>

    public init(topics: Topics, maxAnnouncements: Int = 200, maxBehind: Int = LiveFeed.defaultMaxBehind,
                maxBehindBytes: Int = LiveFeed.defaultMaxBehindBytes) {
        announcementTopic = topics.announcementEvents
        self.maxBehind = maxBehind
        self.maxBehindBytes = maxBehindBytes
        state = Mutex(State(history: AnnouncementHistory(capacity: maxAnnouncements)))
    }

    /// Called by the spool, in journal order, for every outbound message it records. Never blocks.
    public func published(_ messages: [OutboundMessage]) {
        let cut = state.withLock { s in
            for message in messages where message.topic == announcementTopic { s.history.record(message) }
            var cut: [FeedSubscription] = []
            for (id, subscriber) in s.subscribers where !subscriber.offer(messages) {
                s.subscribers[id] = nil
                s.cutOff += 1
                cut.append(subscriber)
            }
            return cut
        }
        // Told here, not by the stream's writer: that one may be stuck in a write to the very
        // client that stopped reading, and would never get to say it.
        for subscriber in cut { subscriber.onCutOff() }
    }

    /// A new stream: the announcement history as of now, and a subscription that gets every
    /// message published after it. Taken together under the lock, so no event is missed or
    /// seen twice between the two.
    /// `onCutOff` is called once if the stream falls too far behind, inside `published` (so under
    /// the spool's lock: it should do no more than log).
    public func subscribe(onCutOff: @escaping @Sendable () -> Void = {}) -> (history: [OutboundMessage], subscription: FeedSubscription) {
        state.withLock { s in
            s.nextID += 1
            let subscription = FeedSubscription(id: s.nextID, maxMessages: maxBehind, maxBytes: maxBehindBytes, onCutOff: onCutOff)
            s.subscribers[subscription.id] = subscription
            return (s.history.replay, subscription)
        }
    }

    /// The stream is gone (its client left, the daemon stops): it gets nothing more.
    public func unsubscribe(_ subscription: FeedSubscription) {
        subscription.end()
        _ = state.withLock { $0.subscribers.removeValue(forKey: subscription.id) }
    }

    /// Open streams now.
    public var subscriberCount: Int { state.withLock { $0.subscribers.count } }

    /// Streams cut off for falling behind, since start.
    public var cutOffTotal: UInt64 { state.withLock { $0.cutOff } }

    /// The announcement events a new stream would replay.
    public var announcementHistory: [OutboundMessage] { state.withLock { $0.history.replay } }
}
