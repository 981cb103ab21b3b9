import Synchronization

/// A one-shot latch: something becomes ready once (with a value, e.g. the port a server got) or
/// fails once (with why), and any number of tasks await it. The first outcome is final; a wait
/// after it returns at once. The daemon's services wait for each other with it instead of polling
/// or probing: the session for the embedded broker, the plugins for the media server's port, the
/// router for the plugins.
public final class Readiness<Value: Sendable>: Sendable {
    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }

    private enum Outcome {
        case ready(Value)
        case failed(String)
    }

    private struct State {
        var outcome: Outcome?
        var nextWaiter = 0
        var waiters: [Int: CheckedContinuation<Value, any Error>] = [:]
    }

    private let state = Mutex(State())

    public init() {}

    /// Ready with `value`; ignored when an outcome is already there.
    public func open(_ value: Value) { settle(.ready(value)) }

    /// Will never be ready, because of `why`; ignored when an outcome is already there.
    public func fail(_ why: String) { settle(.failed(why)) }

    public var isReady: Bool { state.withLock { if case .ready = $0.outcome { true } else { false } } }

    /// The value once ready; throws `Failure` if it failed, `CancellationError` if the waiting
    /// task is cancelled first.
    public func wait() async throws -> Value {
        let id = state.withLock { state in
            state.nextWaiter += 1
            return state.nextWaiter
        }
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { continuation in
                let immediate: Result<Value, any Error>? = state.withLock { state in
                    if Task.isCancelled { return .failure(CancellationError()) }
                    switch state.outcome {
                    case .ready(let value)?: return .success(value)
                    case .failed(let why)?: return .failure(Failure(description: why))
                    case nil:
                        state.waiters[id] = continuation
                        return nil
                    }
                }
                if let immediate { continuation.resume(with: immediate) }
            }
        } onCancel: {
            state.withLock { $0.waiters.removeValue(forKey: id) }?.resume(throwing: CancellationError())
        }
    }

    private func settle(_ outcome: Outcome) {
        let waiters: [CheckedContinuation<Value, any Error>] = state.withLock { state in
            guard state.outcome == nil else { return [] }
            state.outcome = outcome
            defer { state.waiters = [:] }
            return Array(state.waiters.values)
        }
        for waiter in waiters {
            switch outcome {
            case .ready(let value): waiter.resume(returning: value)
            case .failed(let why): waiter.resume(throwing: Failure(description: why))
            }
        }
    }
}

extension Readiness where Value == Void {
    public func open() { open(()) }
}
