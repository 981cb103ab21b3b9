import Synchronization

/// A continuation resumed by whichever of several parties comes first (an answer, a deadline, a
/// process exit); the others find it taken.
final class ResumeOnce<T: Sendable>: Sendable {
    private let continuation: Mutex<CheckedContinuation<T, Never>?>

    init(_ continuation: CheckedContinuation<T, Never>) { self.continuation = Mutex(continuation) }

    /// Resumes with `value` unless someone did already; says whether this call did.
    @discardableResult
    func resume(_ value: T) -> Bool {
        guard let c = continuation.withLock({ c in defer { c = nil }; return c }) else { return false }
        c.resume(returning: value)
        return true
    }

    var isTaken: Bool { continuation.withLock { $0 == nil } }

    /// Takes the right to resume without resuming yet: the caller resumes the continuation it got
    /// later (after more work), nobody else can.
    func claim() -> CheckedContinuation<T, Never>? {
        continuation.withLock { c in defer { c = nil }; return c }
    }
}
