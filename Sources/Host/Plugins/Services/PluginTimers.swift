import PluginAPI
import Synchronization

/// The timers of one plugin instance (SB_HOST_EXT_TIMERS), firing on its executor. One
/// implementation for both modes: the daemon's host context uses it for an inline instance, the
/// plugin host process for an isolated one (timers never cross the socket: a round trip could not
/// keep the header's promise that no callback runs once `cancel` returned).
final class PluginTimers: Sendable {
    /// A C callback and its user pointer, handed back to the plugin on its own executor only.
    struct Callback: @unchecked Sendable {
        // @unchecked: plugin-owned pointers we never dereference; they are only passed back to
        // the plugin's function on the plugin's serial executor.
        let fn: sb_timer_fn
        let user: UnsafeMutableRawPointer?
    }

    private let executor: PluginExecutor
    /// Timers that may still fire; the tasks that drive them. An id is active before its task exists.
    private let active = Mutex<Set<UInt64>>([])
    private let tasks = Mutex<[UInt64: Task<Void, Never>]>([:])
    private let nextID = Atomic<UInt64>(1)

    init(executor: PluginExecutor) {
        self.executor = executor
    }

    /// Fires after `delayMs`, then every `periodMs` when it is > 0; returns the timer's id.
    func start(delayMs: UInt32, periodMs: UInt32, callback: Callback) -> UInt64 {
        let id = nextID.wrappingAdd(1, ordering: .relaxed).oldValue
        let executor = self.executor
        active.withLock { _ = $0.insert(id) }
        let task = Task { [weak self] in
            var wait = UInt64(delayMs)
            while !Task.isCancelled {
                try? await Task.sleep(for: .milliseconds(wait))
                if Task.isCancelled { break }
                guard let timers = self else { return }
                executor.async {
                    // The header promises that no callback runs after `cancel` returned, even one
                    // already queued here: look the timer up again on the executor.
                    guard timers.active.withLock({ $0.contains(id) }) else { return }
                    if periodMs == 0 { timers.forget(id) }
                    callback.fn(callback.user, id)
                }
                guard periodMs > 0 else { return }
                wait = UInt64(periodMs)
            }
        }
        // A one-shot timer may have fired already; keep only tasks of timers that are still active.
        if active.withLock({ $0.contains(id) }) { tasks.withLock { $0[id] = task } }
        return id
    }

    /// No effect on an unknown or finished timer; no callback of `id` runs after this returns.
    func cancel(_ id: UInt64) {
        forget(id)?.cancel()
    }

    /// Cancels every timer (unload, reload, destroy).
    func cancelAll() {
        active.withLock { $0.removeAll() }
        for task in tasks.withLock({ t in defer { t.removeAll() }; return Array(t.values) }) { task.cancel() }
    }

    @discardableResult
    private func forget(_ id: UInt64) -> Task<Void, Never>? {
        active.withLock { _ = $0.remove(id) }
        return tasks.withLock { $0.removeValue(forKey: id) }
    }
}
