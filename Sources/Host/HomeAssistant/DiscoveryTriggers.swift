import Foundation
import Synchronization

/// What makes discovery re-publish everything: a (re)connect of the session, and Home Assistant's
/// birth message. Both arrive on the session thread, before the discovery service may even exist,
/// so they are kept here until its next round takes them.
public final class DiscoveryTriggers: Sendable {
    private struct State {
        var republish = false
        var birthDue: ContinuousClock.Instant?
    }

    private let state = Mutex(State())
    private let status: HomeAssistantStatus

    public init(status: HomeAssistantStatus) { self.status = status }

    /// The session connected: a broker that lost its retained store learns the configs again.
    public func connected() { state.withLock { $0.republish = true } }

    /// Home Assistant said `online`. The random delay (0.5-3 s) spreads the answers of many
    /// bridges after a restart of Home Assistant, and gives it time to subscribe to what it learns.
    public func birth() {
        status.sawBirth(at: Date())
        let delay = Duration.milliseconds(Int.random(in: 500...3000))
        state.withLock { $0.birthDue = .now + delay }
    }

    /// Whether this round must publish everything, and whether that answers a birth.
    func take(now: ContinuousClock.Instant) -> (force: Bool, birth: Bool) {
        state.withLock { s in
            let due = s.birthDue.map { $0 <= now } ?? false
            if due { s.birthDue = nil }
            defer { s.republish = false }
            return (s.republish || due, due)
        }
    }
}
