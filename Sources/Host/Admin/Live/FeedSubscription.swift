import Synchronization

/// One open event stream's queue of the feed's messages: filled by the spool's commits (through
/// `LiveFeed.published`, under the spool's lock), emptied by the stream's writer at the pace of
/// its client.
///
/// Bounded: a client that falls `maxMessages` (or `maxBytes` of payload) behind is cut off, its
/// queue freed at once. It reconnects and gets the replay, which is the state it missed; waiting
/// for it would hold the daemon's memory hostage to the slowest browser tab.
public final class FeedSubscription: Sendable {
    public enum Next: Sendable, Equatable {
        case messages([OutboundMessage])
        /// Nothing for a while: the writer sends a comment, so the connection never looks idle.
        case keepalive
        /// Ended by `end()` (shutdown, the client left) or cut off for falling behind.
        case ended(cutOff: Bool)
    }

    public let id: UInt64
    let maxMessages: Int
    let maxBytes: Int
    /// Messages handed to the writer per `next()`: what it holds beside the queue stays small.
    static let batch = 64

    private struct State {
        var queue: [OutboundMessage] = []
        var head = 0
        var bytes = 0
        var ended: Next?
        var keepaliveDue = false
        var waiter: CheckedContinuation<Next, Never>?

        var count: Int { queue.count - head }
    }

    private let state = Mutex(State())

    /// Called once when the subscription is cut off for falling behind.
    let onCutOff: @Sendable () -> Void

    init(id: UInt64, maxMessages: Int, maxBytes: Int, onCutOff: @escaping @Sendable () -> Void = {}) {
        self.id = id
        self.maxMessages = maxMessages
        self.maxBytes = maxBytes
        self.onCutOff = onCutOff
    }

    /// Appends `messages`; false when the subscription is (now) ended and should be forgotten.
    /// Never blocks: only a short lock, an append, and at most one continuation resumed.
    func offer(_ messages: [OutboundMessage]) -> Bool {
        state.withLock { s in
            guard s.ended == nil else { return false }
            let bytes = messages.reduce(0) { $0 + $1.payload.count + $1.topic.utf8.count }
            guard s.count + messages.count <= maxMessages, s.bytes + bytes <= maxBytes else {
                s.queue = []
                s.head = 0
                s.bytes = 0
                Self.finish(&s, .ended(cutOff: true))
                return false
            }
            s.queue.append(contentsOf: messages)
            s.bytes += bytes
            if let waiter = s.waiter {
                s.waiter = nil
                waiter.resume(returning: Self.take(&s))
            }
            return true
        }
    }

    /// The writer's keepalive timer: wakes a waiting writer with `.keepalive`.
    func keepalive() {
        state.withLock { s in
            guard s.ended == nil else { return }
            if let waiter = s.waiter {
                s.waiter = nil
                waiter.resume(returning: .keepalive)
            } else {
                s.keepaliveDue = true
            }
        }
    }

    /// Ends the subscription: the writer's `next()` returns `.ended` (at once if it is waiting).
    public func end() {
        state.withLock { s in
            s.queue = []
            s.head = 0
            s.bytes = 0
            Self.finish(&s, .ended(cutOff: false))
        }
    }

    /// The next messages (at most `batch`), a keepalive, or the end. Cancelling the waiting task
    /// ends the subscription.
    public func next() async -> Next {
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Next, Never>) in
                state.withLock { s in
                    if let ended = s.ended {
                        continuation.resume(returning: ended)
                    } else if s.count > 0 {
                        continuation.resume(returning: Self.take(&s))
                    } else if s.keepaliveDue {
                        s.keepaliveDue = false
                        continuation.resume(returning: .keepalive)
                    } else {
                        s.waiter = continuation
                    }
                }
            }
        } onCancel: {
            end()
        }
    }

    /// Messages waiting now (the tests watch a slow subscriber's queue).
    var backlog: Int { state.withLock { $0.count } }

    private static func take(_ s: inout State) -> Next {
        let end = min(s.queue.count, s.head + batch)
        let taken = Array(s.queue[s.head..<end])
        s.head = end
        s.bytes -= taken.reduce(0) { $0 + $1.payload.count + $1.topic.utf8.count }
        if s.head == s.queue.count {
            s.queue.removeAll(keepingCapacity: s.queue.capacity <= 4 * batch)
            s.head = 0
        } else if s.head > 4 * batch, s.head * 2 > s.queue.count {
            s.queue.removeFirst(s.head)
            s.head = 0
        }
        return .messages(taken)
    }

    private static func finish(_ s: inout State, _ end: Next) {
        if s.ended == nil { s.ended = end }
        if let waiter = s.waiter {
            s.waiter = nil
            waiter.resume(returning: s.ended ?? end)
        }
    }
}
