import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// systemd's watchdog: `WATCHDOG=1` every half of `WATCHDOG_USEC` (the margin systemd's own
/// documentation asks for). It has no timer of its own: the loop it guards calls `pet()` on every
/// turn and a ping goes out when one is due, so a loop that hangs stops the pings and systemd
/// restarts the daemon. A timer beside the loop would keep pinging for a wedged daemon.
public final class ServiceWatchdog: Sendable {
    /// Time between pings: half the watchdog timeout.
    public let interval: Duration
    private let notifier: ServiceNotifier
    private let due: Mutex<ContinuousClock.Instant>

    /// Nil when systemd asked for no watchdog, meant it for another process, or nobody listens.
    public init?(environment: ServiceManagerEnvironment, notifier: ServiceNotifier, pid: Int32 = getpid()) {
        guard notifier.isListening, let timeout = environment.watchdogTimeout(for: pid) else { return nil }
        interval = timeout / 2
        self.notifier = notifier
        due = Mutex(.now)
    }

    /// Called by the guarded loop on every turn; pings when half the timeout has passed.
    public func pet() {
        let now = ContinuousClock.now
        let ping: Bool = due.withLock {
            guard now >= $0 else { return false }
            $0 = now + interval
            return true
        }
        if ping { notifier.watchdogPing() }
    }
}
