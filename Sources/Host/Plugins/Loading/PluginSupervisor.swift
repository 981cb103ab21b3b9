import Foundation
import Synchronization

/// What the daemon knows about each plugin id beyond its serving generation: crashes of its
/// plugin host process, restarts, the crash-loop guard, the last state blob it saved (handed to a
/// restarted generation), and whether the daemon is stopping. Kept per id, across generations;
/// the restart itself is `PluginRestarts.swift`.
final class PluginSupervisor: Sendable {
    enum State: String, Sendable {
        /// Serving (a hung inline call shows as `hung`, derived from the serving generation).
        case running
        /// Crashed; a new process starts after the backoff.
        case restarting
        /// Crashed and the restart failed; it is tried again after the backoff.
        case crashed
        /// The crash-loop guard gave up: no restarts until a reload.
        case down
    }

    struct Record: Sendable {
        var state = State.running
        /// How the last process ended ("crashed (SIGSEGV)", "exited with status 3", …).
        var lastExit: String?
        /// The same, short: "SIGSEGV", "exit status 3", "hung in command 'x' for 7 s".
        var lastCause: String?
        var restarts = 0
        /// When its processes crashed, within the guard's window.
        var crashes: [Date] = []
        /// The last state blob it saved (periodically, or at a reload's handover).
        var savedState: (version: UInt32, bytes: [UInt8])?
        /// The generation whose crash is being handled (a restart aborts when a reload replaced it).
        var crashedGeneration: Int?
    }

    /// The crash-loop guard: this many crashes within `crashWindow` seconds and it stays down.
    static let crashLimit = 5
    static let crashWindow = 60.0
    /// Restart backoff: 0.5 s, doubling with each crash in the window, at most 30 s.
    static func backoff(crashesInWindow n: Int) -> Double { min(0.5 * pow(2, Double(max(n - 1, 0))), 30) }
    /// How often a serving isolated plugin is asked for its state (kept for a restart).
    static let saveInterval = 30.0
    /// A daemon stop: callers stop waiting for plugins after this many seconds, and all plugins
    /// are destroyed (or given up on) within `stopBudget` seconds of the stop, whatever they do.
    static let stopCallGrace = 4.0
    static let stopBudget = 8.0

    let records = Mutex<[String: Record]>([:])
    /// When the daemon began to stop; nil while running.
    let stopBegan = Mutex<ContinuousClock.Instant?>(nil)

    var isStopping: Bool { stopBegan.withLock { $0 != nil } }

    func record(_ id: String) -> Record { records.withLock { $0[id] ?? Record() } }

    func update<T>(_ id: String, _ body: (inout Record) -> T) -> T {
        records.withLock { r in
            var record = r[id] ?? Record()
            defer { r[id] = record }
            return body(&record)
        }
    }

    /// A reload (or unload) starts afresh: the guard's count, the state and the last exit go.
    func reset(_ id: String, keepingState: Bool = true) {
        update(id) { r in
            let saved = r.savedState
            r = Record()
            if keepingState { r.savedState = saved }
        }
    }

    /// The user-facing words for a plugin that cannot answer now (calls, health).
    static func outage(id: String, record r: Record) -> String? {
        let last = r.lastCause ?? r.lastExit ?? "an unknown reason"
        switch r.state {
        case .running: return nil
        case .restarting, .crashed: return "plugin \(id) is restarting after a crash (\(last))"
        case .down: return "plugin \(id) is down: it crashed \(r.crashes.count) times in \(Int(crashWindow)) s (last: \(last)); reload it to try again"
        }
    }
}
