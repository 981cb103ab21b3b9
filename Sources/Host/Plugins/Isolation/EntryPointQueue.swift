import Dispatch
import Synchronization

/// The daemon's side of a plugin instance's serial executor: one entry-point call in flight to its
/// plugin host at a time, the others waiting here in order. So a call's deadline counts from when
/// the plugin can start on it, as inline (a burst of 50 syntheses does not time out the later ones),
/// and a call stuck behind a hung one gives up after `PluginExecutor.queueWaitFactor` timeouts
/// without ever being sent.
final class EntryPointQueue: Sendable {
    private struct State {
        var busy = false
        var waiters: [(ticket: UInt64, turn: ResumeOnce<Bool>)] = []
        var nextTicket: UInt64 = 0
    }

    private let state = Mutex(State())

    /// Waits for the turn, at most `timeout` seconds; false if it did not come (nothing to leave then).
    func enter(timeout: Double) async -> Bool {
        await withCheckedContinuation { continuation in
            let turn = ResumeOnce<Bool>(continuation)
            let ticket = state.withLock { s -> UInt64? in
                if !s.busy {
                    s.busy = true
                    return nil
                }
                s.nextTicket += 1
                s.waiters.append((s.nextTicket, turn))
                return s.nextTicket
            }
            guard let ticket else {
                turn.resume(true)
                return
            }
            DispatchQueue.global().asyncAfter(deadline: .now() + timeout) { [self] in
                // Still waiting: leave the line. (Already served: the resume below finds it taken.)
                let left = state.withLock { s -> Bool in
                    guard let i = s.waiters.firstIndex(where: { $0.ticket == ticket }) else { return false }
                    s.waiters.remove(at: i)
                    return true
                }
                if left { turn.resume(false) }
            }
        }
    }

    /// Hands the turn to the next caller waiting, if any.
    func leave() {
        let next = state.withLock { s -> ResumeOnce<Bool>? in
            guard !s.waiters.isEmpty else {
                s.busy = false
                return nil
            }
            return s.waiters.removeFirst().turn
        }
        next?.resume(true)
    }
}
