import PluginAPI
import Synchronization

/// Long operations in flight (play a clip …), keyed by operation id, completed by plugins through
/// SB_HOST_EXT_OPERATIONS or failed by their deadline.
public final class OperationTable: Sendable {
    private struct Pending {
        let owner: ObjectIdentifier
        let continuation: CheckedContinuation<OperationOutcome, Never>
    }

    private let pending = Mutex<[UInt64: Pending]>([:])
    private let nextID = Atomic<UInt64>(1)

    public init() {}

    func newID() -> UInt64 { nextID.wrappingAdd(1, ordering: .relaxed).oldValue }

    /// Waits for the completion of `id`, started by `start` (which gets the id); fails it after `timeout`.
    func run(owner: ObjectIdentifier, timeout: Double, _ start: @escaping @Sendable (UInt64) -> Void) async -> OperationOutcome {
        let id = newID()
        return await withCheckedContinuation { continuation in
            pending.withLock { $0[id] = Pending(owner: owner, continuation: continuation) }
            start(id)
            Task {
                try? await Task.sleep(for: .milliseconds(Int(timeout * 1000)))
                self.finish(id, .timedOut(seconds: timeout))
            }
        }
    }

    /// A completion with the status and detail a plugin reports.
    func complete(_ id: UInt64, status: Int32, detail: String?, by owner: ObjectIdentifier? = nil) {
        finish(id, OperationOutcome(status: status, detail: detail), by: owner)
    }

    /// First completion wins; later ones (a plugin completing twice, or after the deadline) are ignored.
    /// `by`: the instance completing it (from a plugin); an instance may only complete its own
    /// operations. nil for the host's own completions (deadline, refused start).
    func finish(_ id: UInt64, _ outcome: OperationOutcome, by owner: ObjectIdentifier? = nil) {
        let entry = pending.withLock { p -> Pending? in
            guard let e = p[id], owner == nil || e.owner == owner else { return nil }
            return p.removeValue(forKey: id)
        }
        entry?.continuation.resume(returning: outcome)
    }

    /// The operations `owner` has not completed yet.
    func pendingIDs(owner: ObjectIdentifier) -> [UInt64] {
        pending.withLock { p in p.filter { $0.value.owner == owner }.map(\.key) }
    }

    func failAll(owner: ObjectIdentifier, reason: String) {
        let victims = pending.withLock { p -> [Pending] in
            let ids = p.filter { $0.value.owner == owner }.map(\.key)
            return ids.compactMap { p.removeValue(forKey: $0) }
        }
        for v in victims { v.continuation.resume(returning: .cancelled(reason: reason)) }
    }
}
