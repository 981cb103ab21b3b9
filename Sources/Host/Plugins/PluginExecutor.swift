import Dispatch
import Foundation
import Synchronization

/// The serial executor of one plugin instance: every call into the instance, and every callback
/// the host makes into it (timers, completions), runs here, one at a time — the ABI's threading
/// rule. Each instance has its own, so a plugin that hangs blocks nobody else.
final class PluginExecutor: Sendable {
    enum CallError: Error, Equatable {
        /// The call did not return within its deadline (it may still be running).
        case timedOut(seconds: Double)
        /// An earlier call is still stuck; new calls fail fast instead of queueing behind it.
        case hung(since: Double)
    }

    /// When the call that is stuck now began (seconds since 1970); nil while the executor is healthy.
    private final class StuckSince: Sendable {
        let value = Mutex<Double?>(nil)
    }

    /// Resumes a continuation once, whichever of the call and its deadline comes first.
    private final class Once: Sendable {
        private let taken = Atomic<Bool>(false)
        func claim() -> Bool { !taken.exchange(true, ordering: .acquiringAndReleasing) }
        var isTaken: Bool { taken.load(ordering: .acquiring) }
    }

    private let queue: DispatchQueue
    private let stuck = StuckSince()

    init(label: String) {
        queue = DispatchQueue(label: "plugin.\(label)")
    }

    var isHung: Bool { stuck.value.withLock { $0 != nil } }

    /// Runs `body` on the executor and waits at most `timeout` seconds for it.
    func call<T: Sendable>(timeout: Double, _ body: @escaping @Sendable () -> T) async throws(CallError) -> T {
        if let since = stuck.value.withLock({ $0 }) { throw .hung(since: since) }
        let once = Once()
        let stuck = self.stuck
        let result: Result<T, CallError> = await withCheckedContinuation { continuation in
            queue.async {
                let value = body()
                stuck.value.withLock { $0 = nil }
                if once.claim() { continuation.resume(returning: .success(value)) }
            }
            DispatchQueue.global().asyncAfter(deadline: .now() + timeout) {
                guard !once.isTaken else { return }
                stuck.value.withLock { $0 = $0 ?? Date().timeIntervalSince1970 - timeout }
                if once.claim() { continuation.resume(returning: .failure(.timedOut(seconds: timeout))) }
            }
        }
        return try result.get()
    }

    /// Fire-and-forget work on the executor (host callbacks into the plugin).
    func async(_ body: @escaping @Sendable () -> Void) {
        queue.async(execute: body)
    }
}
