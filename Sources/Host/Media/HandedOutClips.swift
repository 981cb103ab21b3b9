import Synchronization

/// The URLs the media store's clips were handed out as, so a URL that comes back (in a TTS
/// plugin's result) finds its clip by lookup, not by taking the URL apart. Bounded: the oldest
/// entries go first; a URL comes back within seconds of its `put` (the put lease covers that).
final class HandedOutClips: Sendable {
    private struct State {
        var ids: [String: String] = [:]
        var order: [String] = []
    }

    static let capacity = 4096
    private let state = Mutex(State())

    func remember(url: String, clipID: String) {
        state.withLock { s in
            if s.ids.updateValue(clipID, forKey: url) == nil { s.order.append(url) }
            if s.order.count > Self.capacity {
                let dropped = s.order.count - Self.capacity
                for old in s.order.prefix(dropped) { s.ids[old] = nil }
                s.order.removeFirst(dropped)
            }
        }
    }

    /// The id of the clip handed out as `url`; nil for a URL this store did not hand out.
    func clipID(handedOutAs url: String) -> String? { state.withLock { $0.ids[url] } }
}
