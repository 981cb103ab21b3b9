import Foundation

/// Polls `condition` every `interval` seconds until it is true or `timeout` seconds passed.
/// Returns the last result. LabKit waits by polling: Synchronization.Mutex has no condition
/// variable, and a few milliseconds of latency do not matter in tests.
@discardableResult
public func waitUntil(timeout: Double, interval: Double = 0.005, _ condition: () -> Bool) -> Bool {
    let deadline = ContinuousClock.now + .milliseconds(Int(timeout * 1000))
    while true {
        if condition() { return true }
        if ContinuousClock.now >= deadline { return false }
        Thread.sleep(forTimeInterval: interval)
    }
}
