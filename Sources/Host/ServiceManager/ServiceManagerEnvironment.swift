import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// What systemd hands a `Type=notify` service in its environment: where to send notifications and
/// how often it wants a watchdog ping.
public struct ServiceManagerEnvironment: Sendable, Equatable {
    /// `$NOTIFY_SOCKET`; nil when no service manager listens (started by hand, in a container).
    public var notifySocket: String?
    /// `$WATCHDOG_USEC`: systemd restarts the service when no `WATCHDOG=1` came for this long.
    public var watchdogMicroseconds: UInt64?
    /// `$WATCHDOG_PID`: the process the watchdog is meant for (unset means us).
    public var watchdogPID: Int32?

    public init(notifySocket: String? = nil, watchdogMicroseconds: UInt64? = nil, watchdogPID: Int32? = nil) {
        self.notifySocket = notifySocket
        self.watchdogMicroseconds = watchdogMicroseconds
        self.watchdogPID = watchdogPID
    }

    public init(_ environment: [String: String]) {
        notifySocket = environment["NOTIFY_SOCKET"].flatMap { $0.isEmpty ? nil : $0 }
        watchdogMicroseconds = environment["WATCHDOG_USEC"].flatMap { UInt64($0) }.flatMap { $0 > 0 ? $0 : nil }
        watchdogPID = environment["WATCHDOG_PID"].flatMap { Int32($0) }
    }

    /// The watchdog interval when the watchdog is meant for process `pid`: systemd sets
    /// `WATCHDOG_PID` to the main process, so a child that inherited the variables stays quiet.
    public func watchdogTimeout(for pid: Int32) -> Duration? {
        guard let usec = watchdogMicroseconds else { return nil }
        if let watchdogPID, watchdogPID != pid { return nil }
        return .microseconds(Int64(clamping: usec))
    }

    /// Reads the variables and removes them from the process environment, as libsystemd's
    /// `sd_notify(unset_environment=1)` does: children (the embedded mosquitto is built with
    /// sd_notify support) must not tell our service manager that *they* are ready or alive. Call it
    /// before any child process is started.
    public static func take() -> ServiceManagerEnvironment {
        let found = ServiceManagerEnvironment(ProcessInfo.processInfo.environment)
        for name in ["NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID"] { unsetenv(name) }
        return found
    }
}
