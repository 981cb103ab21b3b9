import CoreMetrics
import Synchronization

/// A counter that follows a running total kept elsewhere (the session's reconnects, the spool's
/// dropped messages, the CPU time in /proc): a counter can only be incremented, so each scrape
/// adds what the total grew by since the last one. A total that went down (it cannot, short of a
/// restart, which starts a new counter anyway) adds nothing.
final class TotalFollower: Sendable {
    private let add: @Sendable (Double) -> Void
    private let last = Mutex<Double>(0)

    /// `fractional`: the total has a fraction (CPU seconds); whole totals stay integers in the output.
    init(label: String, dimensions: [(String, String)] = [], fractional: Bool = false, factory: any MetricsFactory) {
        if fractional {
            let counter = FloatingPointCounter(label: label, dimensions: dimensions, factory: factory)
            add = { counter.increment(by: $0) }
        } else {
            let counter = Counter(label: label, dimensions: dimensions, factory: factory)
            add = { counter.increment(by: Int64($0)) }
        }
    }

    func follow(_ total: Double) {
        let growth = last.withLock { last -> Double in
            guard total > last else { return 0 }
            defer { last = total }
            return total - last
        }
        if growth > 0 { add(growth) }
    }
}
