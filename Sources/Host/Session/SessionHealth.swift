import Foundation

extension SessionStatus {
    /// Why the daemon is not healthy, each in words an operator can act on; empty when it is.
    /// The one verdict: the `health` request (`speakerbridge health`, the container HEALTHCHECK)
    /// and the admin listener's `/healthz` both decide by it.
    public var healthProblems: [String] {
        var problems: [String] = []
        if !connected {
            var problem = "not connected to the broker \(broker) since \(since.formatted(.iso8601))"
            if let d = lastDisconnect { problem += ": \(d.name), \(d.explanation)" }
            problems.append(problem)
        }
        if let twinWarning { problems.append(twinWarning) }
        return problems
    }
}
