import Synchronization

/// A boolean that one thread sets and others poll (shutdown requests into the session thread).
public final class AtomicFlag: Sendable {
    private let value = Atomic<Bool>(false)
    public init() {}
    public func set() { value.store(true, ordering: .releasing) }
    public var isSet: Bool { value.load(ordering: .acquiring) }
}
