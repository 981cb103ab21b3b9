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
    /// Told of every call that missed its deadline (the metrics count them).
    private let timedOut: @Sendable () -> Void

    init(label: String, timedOut: @escaping @Sendable () -> Void = {}) {
        queue = DispatchQueue(label: "plugin.\(label)")
        self.timedOut = timedOut
    }

    var isHung: Bool { stuck.value.withLock { $0 != nil } }

    /// How long a call may wait in the queue behind others, in units of its own timeout, before
    /// the caller gives up on it (it is then not run at all).
    static let queueWaitFactor = 6.0

    /// Runs `body` on the executor and waits at most `timeout` seconds for it once it runs.
    ///
    /// The deadline counts from when the body starts, not from when it was queued, so a burst of
    /// calls (a TTS engine asked for 50 announcements) does not time out the later ones. A call
    /// stuck behind a hung one gives up after `queueWaitFactor` timeouts and never runs.
    func call<T: Sendable>(timeout: Double, _ body: @escaping @Sendable () -> T) async throws(CallError) -> T {
        if let since = stuck.value.withLock({ $0 }) { throw .hung(since: since) }
        let started = Once(), finished = Once()
        let stuck = self.stuck, timedOut = self.timedOut
        let result: Result<T, CallError> = await withCheckedContinuation { continuation in
            queue.async {
                guard started.claim() else { return }
                DispatchQueue.global().asyncAfter(deadline: .now() + timeout) {
                    // Claim and mark under one lock with the body's own finish, so a body that ends
                    // right now cannot leave the executor marked stuck for ever.
                    let fire = stuck.value.withLock { s in
                        guard finished.claim() else { return false }
                        s = s ?? Date().timeIntervalSince1970 - timeout
                        return true
                    }
                    if fire {
                        timedOut()
                        continuation.resume(returning: .failure(.timedOut(seconds: timeout)))
                    }
                }
                let value = body()
                let first = stuck.value.withLock { s in
                    s = nil
                    return finished.claim()
                }
                if first { continuation.resume(returning: .success(value)) }
            }
            DispatchQueue.global().asyncAfter(deadline: .now() + timeout * PluginExecutor.queueWaitFactor) {
                guard started.claim() else { return }
                _ = finished.claim()
                continuation.resume(returning: .failure(.hung(since: Date().timeIntervalSince1970 - timeout * PluginExecutor.queueWaitFactor)))
            }
        }
        return try result.get()
    }

    /// Fire-and-forget work on the executor (host callbacks into the plugin).
    func async(_ body: @escaping @Sendable () -> Void) {
        queue.async(execute: body)
    }
}
