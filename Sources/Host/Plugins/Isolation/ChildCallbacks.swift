import Synchronization

/// The plugin's callbacks (a function and its `user`) for the requests, sockets and routes it
/// started in the plugin host process, by the id the plugin was handed. An id is registered
/// BEFORE its request goes to the daemon, so an event can never arrive for an id not known yet;
/// and an event is looked up again on the executor, just before the plugin is called, so once
/// `cancel`/`close`/`remove` took the id away nothing more is delivered for it.
final class ChildCallbacks<Callback: Sendable>: Sendable {
    private let table = Mutex<[UInt64: Callback]>([:])
    private let nextID = Atomic<UInt64>(1)

    init() {}

    /// A new id for `callback` (ids start at 1; 0 is never one).
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
