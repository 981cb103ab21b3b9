import Foundation

/// How each loaded plugin is doing, for `health` (and the admin listener's `/healthz`),
/// `plugins list` and `bridge/info`: running, hung (a call missed its deadline and has not
/// returned), restarting or crashed (its process died), or down (the crash-loop guard gave up).
extension PluginRegistry {
    public struct PluginCondition: Sendable, Equatable {
        /// running | hung | restarting | crashed | down
        public let state: String
        /// Why it is not running, in words (nil while running).
        public let problem: String?
        public let lastExit: String?
        public let restarts: Int
    }

    func condition(of p: PluginTable.Loaded) -> PluginCondition {
        let id = p.info.id
        let record = supervisor.record(id)
        if let outage = PluginSupervisor.outage(id: id, record: record) {
            return PluginCondition(state: record.state.rawValue, problem: outage, lastExit: record.lastExit, restarts: record.restarts)
        }
        if let hang = p.serving.hang {
            return PluginCondition(state: "hung", problem: "plugin \(id) is not responding (\(hang.what) for \(Int(hang.seconds.rounded())) s)",
                                   lastExit: record.lastExit, restarts: record.restarts)
        }
        if p.serving.isHung {
            return PluginCondition(state: "hung", problem: "plugin \(id) is not responding", lastExit: record.lastExit, restarts: record.restarts)
        }
        return PluginCondition(state: "running", problem: nil, lastExit: record.lastExit, restarts: record.restarts)
    }

    /// The condition of every loaded plugin, by id.
    public var conditions: [String: PluginCondition] {
        let plugins = table.state.withLock { $0.plugins }
        return plugins.mapValues { condition(of: $0) }
    }

    /// Why the plugins make the daemon unhealthy (degraded), one line each; empty when none does.
    /// No plugin at all is not a problem (the daemon still relays).
    public var healthProblems: [String] {
        conditions.sorted { $0.key < $1.key }.compactMap { $0.value.problem }
    }
}
