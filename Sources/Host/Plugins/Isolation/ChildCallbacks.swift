import Synchronization

/// The plugin's callbacks (a function and its `user`) for the requests, sockets and routes it
/// started in the plugin host process, by the id the plugin was handed. An id is registered
/// BEFORE its request goes to the daemon, so an event can never arrive for an id not known yet;
/// and an event is looked up again on the executor, just before the plugin is called, so once
/// `cancel`/`close`/`remove` took the id away nothing more is delivered for it.
final class ChildCallbacks<Callback: Sendable>: Sendable {
    private let table = Mutex<[UInt64: Callback]>([:])
    private let nextID: Atomic<UInt64>

    /// Ids start at `first` (never 0). The plugin host uses its generation in the high half, so a
    /// newer generation (a reload, a restart) never hands out an id an older one had: inline, a
    /// route id is unique in the daemon, and a plugin may remove a route by an id it kept in its
    /// state, which must not hit the newer generation's route.
    init(first: UInt64 = 1) {
        nextID = Atomic(max(first, 1))
    }

    /// A new id for `callback`.
    func add(_ callback: Callback) -> UInt64 {
        let id = nextID.wrappingAdd(1, ordering: .relaxed).oldValue
        table.withLock { $0[id] = callback }
        return id
    }

    func get(_ id: UInt64) -> Callback? { table.withLock { $0[id] } }

    @discardableResult
    func remove(_ id: UInt64) -> Callback? { table.withLock { $0.removeValue(forKey: id) } }

    func removeAll() { table.withLock { $0.removeAll() } }
}
