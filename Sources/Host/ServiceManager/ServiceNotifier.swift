import Foundation
import Logging
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// The daemon's side of systemd's notify protocol: `READY=1` once, `STATUS=` lines,
/// `RELOADING=1`/`READY=1` around a reload, `STOPPING=1`, and the watchdog's `WATCHDOG=1`.
/// Without `$NOTIFY_SOCKET` every call does nothing, so the daemon runs the same by hand.
public final class ServiceNotifier: Sendable {
    private let socket: NotifySocket?
    private let logger: Logger

    private struct State {
        var ready = false
        /// READY=1 came due during a reload: it goes out when the reload ends.
        var readyAfterReload = false
        var reloading = false
        var status: String?
        /// After `STOPPING=1` a status line would only confuse `systemctl status`.
        var stopping = false
        /// The last send failed: say so once, not at every watchdog ping.
        var failing = false
    }

    private let state = Mutex(State())

    public init(environment: ServiceManagerEnvironment, logger: Logger) {
        self.logger = logger
        guard let address = environment.notifySocket else {
            socket = nil
            return
        }
        do {
            socket = try NotifySocket(address: address)
        } catch {
            logger.warning("systemd: \(error)")
            socket = nil
        }
    }

    /// True when a service manager listens (`$NOTIFY_SOCKET` was usable).
    public var isListening: Bool { socket != nil }

    /// `READY=1` with the status line, the first time only. During a reload it waits for `reloaded`.
    public func ready(status: String) {
        let send: Bool = state.withLock {
            guard !$0.ready else { return false }
            $0.status = status
            if $0.reloading {
                $0.readyAfterReload = true
                return false
            }
            $0.ready = true
            return true
        }
        guard send else { return }
        logger.info("systemd: ready (\(status))")
        self.send(["READY=1", "STATUS=" + ServiceNotifier.oneLine(status)])
    }

    /// `STATUS=` when the text changed since the last one.
    public func status(_ text: String) {
        let changed: Bool = state.withLock {
            guard $0.status != text, !$0.stopping else { return false }
            $0.status = text
            return true
        }
        if changed { send(["STATUS=" + ServiceNotifier.oneLine(text)]) }
    }

    /// `RELOADING=1` with `MONOTONIC_USEC` (systemd 253 and later require the timestamp for
    /// `Type=notify-reload`, so it can tell this reload from an older one).
    public func reloading() {
        state.withLock { $0.reloading = true }
        send(["RELOADING=1", "MONOTONIC_USEC=\(ServiceNotifier.monotonicMicroseconds())", "STATUS=reloading plugins"])
    }

    /// Ends a reload: `READY=1` again if the daemon was ready (or became ready meanwhile), else
    /// only the status from before (the first `READY=1` still waits for the broker).
    public func reloaded() {
        let lines: [String] = state.withLock {
            $0.reloading = false
            if $0.readyAfterReload {
                $0.readyAfterReload = false
                $0.ready = true
            }
            return ($0.ready ? ["READY=1"] : []) + ($0.status.map { ["STATUS=" + ServiceNotifier.oneLine($0)] } ?? [])
        }
        if !lines.isEmpty { send(lines) }
    }

    /// `STOPPING=1`: the shutdown has begun (systemd then waits for the exit, not for a watchdog).
    public func stopping() {
        state.withLock { $0.stopping = true }
        send(["STOPPING=1", "STATUS=stopping"])
    }

    /// `WATCHDOG=1`; only `ServiceWatchdog` sends it, on its schedule.
    func watchdogPing() { send(["WATCHDOG=1"]) }

    private func send(_ lines: [String]) {
        guard let socket else { return }
        let problem = socket.send(lines)
        let report: Bool = state.withLock { state in
            defer { state.failing = problem != nil }
            return problem != nil && !state.failing
        }
        if report, let problem { logger.warning("systemd: \(problem) (said once until a notification goes through)") }
    }

    /// A status is one line of the protocol: newlines would start new (bogus) fields.
    static func oneLine(_ text: String) -> String {
        text.replacingOccurrences(of: "\n", with: " ")
    }

    static func monotonicMicroseconds() -> UInt64 {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        return UInt64(now.tv_sec) * 1_000_000 + UInt64(now.tv_nsec) / 1000
    }
}
