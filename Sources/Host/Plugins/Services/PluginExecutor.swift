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
        /// The daemon is stopping and gave up on the call (it may still be running).
        case abandoned
    }

    /// The call that missed its deadline and has not returned yet.
    struct Hang: Sendable, Equatable {
        /// What the call was ("command 'sleep'", "play_clip", …), for the log and health.
        let what: String
        /// When it began (seconds since 1970).
        let since: Double
        var seconds: Double { Date().timeIntervalSince1970 - since }
    }

    /// Told when a call misses its deadline (with what it was and its deadline) and when such a
    /// call finally returns (with how long it ran), so the owner can log it and health can say so.
    struct HangEvents: Sendable {
        var began: @Sendable (_ what: String, _ deadline: Double) -> Void = { _, _ in }
        var ended: @Sendable (_ what: String, _ seconds: Double) -> Void = { _, _ in }
    }

    /// The call that is stuck now; nil while the executor is healthy.
    private final class StuckCall: Sendable {
        let value = Mutex<Hang?>(nil)
    }

    /// Resumes a continuation once, whichever of the call and its deadline comes first.
    private final class Once: Sendable {
        private let taken = Atomic<Bool>(false)
        func claim() -> Bool { !taken.exchange(true, ordering: .acquiringAndReleasing) }
        var isTaken: Bool { taken.load(ordering: .acquiring) }
    }

    /// The callers waiting right now (queued or running), each with a way to stop waiting; a
    /// daemon stop uses it so nobody waits behind a plugin that does not return.
    private let waiting = Mutex<(next: UInt64, abandon: [UInt64: @Sendable () -> Void])>((0, [:]))
    private let queue: DispatchQueue
    private let stuck = StuckCall()
    /// Told of every call that missed its deadline (the metrics count them).
    private let timedOut: @Sendable () -> Void
    private let hangs: HangEvents

    init(label: String, timedOut: @escaping @Sendable () -> Void = {}, hangs: HangEvents = HangEvents()) {
        queue = DispatchQueue(label: "plugin.\(label)")
        self.timedOut = timedOut
        self.hangs = hangs
    }

    var isHung: Bool { stuck.value.withLock { $0 != nil } }
    /// The call that missed its deadline and is still running, if any.
    var hang: Hang? { stuck.value.withLock { $0 } }

    /// How long a call may wait in the queue behind others, in units of its own timeout, before
    /// the caller gives up on it (it is then not run at all).
    static let queueWaitFactor = 6.0

    /// Runs `body` on the executor and waits at most `timeout` seconds for it once it runs.
    ///
    /// The deadline counts from when the body starts, not from when it was queued, so a burst of
    /// calls (a TTS engine asked for 50 announcements) does not time out the later ones. A call
    /// stuck behind a hung one gives up after `queueWaitFactor` timeouts and never runs.
    /// `what` names the call in the hang report.
    func call<T: Sendable>(timeout: Double, what: String = "a call", _ body: @escaping @Sendable () -> T) async throws(CallError) -> T {
        if let hang = stuck.value.withLock({ $0 }) { throw .hung(since: hang.since) }
        let started = Once(), finished = Once()
        let stuck = self.stuck, timedOut = self.timedOut, hangs = self.hangs
        let result: Result<T, CallError> = await withCheckedContinuation { continuation in
            let ticket = waiting.withLock { w in
                w.next += 1
                w.abandon[w.next] = {
                    // Not started: it never will be. Running: it is left behind like a missed deadline.
                    if started.claim() {
                        _ = finished.claim()
                    } else {
                        let fire = stuck.value.withLock { s in
                            guard finished.claim() else { return false }
                            s = s ?? Hang(what: what, since: Date().timeIntervalSince1970)
                            return true
                        }
                        guard fire else { return }
                    }
                    continuation.resume(returning: .failure(.abandoned))
                }
                return w.next
            }
            let done: @Sendable () -> Void = { [weak self] in _ = self?.waiting.withLock { $0.abandon.removeValue(forKey: ticket) } }
            queue.async {
                guard started.claim() else { return }
                let began = Date().timeIntervalSince1970
                DispatchQueue.global().asyncAfter(deadline: .now() + timeout) {
                    // Claim and mark under one lock with the body's own finish, so a body that ends
                    // right now cannot leave the executor marked stuck for ever.
                    let fire = stuck.value.withLock { s in
                        guard finished.claim() else { return false }
                        s = s ?? Hang(what: what, since: began)
                        return true
                    }
                    if fire {
                        done()
                        timedOut()
                        hangs.began(what, timeout)
                        continuation.resume(returning: .failure(.timedOut(seconds: timeout)))
                    }
                }
                let value = body()
                let (first, wasStuck) = stuck.value.withLock { s in
                    let wasStuck = s != nil
                    s = nil
                    return (finished.claim(), wasStuck)
                }
                if first {
                    done()
                    continuation.resume(returning: .success(value))
                } else if wasStuck {
                    hangs.ended(what, Date().timeIntervalSince1970 - began)
                }
            }
            DispatchQueue.global().asyncAfter(deadline: .now() + timeout * PluginExecutor.queueWaitFactor) {
                guard started.claim() else { return }
                _ = finished.claim()
                done()
                continuation.resume(returning: .failure(.hung(since: Date().timeIntervalSince1970 - timeout * PluginExecutor.queueWaitFactor)))
            }
        }
        return try result.get()
    }

    /// Every caller waiting now stops waiting with `.abandoned` (a daemon stop): queued calls
    /// never run, a running one is left behind as hung. New calls are still accepted.
    func abandonWaiting() {
        let all = waiting.withLock { w in defer { w.abandon.removeAll() }; return Array(w.abandon.values) }
        for abandon in all { abandon() }
    }

    /// Fire-and-forget work on the executor (host callbacks into the plugin).
    func async(_ body: @escaping @Sendable () -> Void) {
        queue.async(execute: body)
    }
}
