import Foundation

/// Per-player settings that the Sonos-only commands change: sleep timer, crossfade, bass, treble,
/// loudness, the home-theater EQ, and an alarm that rings. Kept on PlayerModel.settings.
struct PlayerSettings: Sendable {
    var crossfade = false
    var bass = 0
    var treble = 0
    var loudness = true
    /// SetEQ values by EQType ("NightMode", "DialogLevel", "SubGain" …).
    var eq: [String: Int] = [:]
    /// ConfigureSleepTimer: what was set and when (nil: no timer).
    var sleepTimer: SleepTimer?
    var sleepTimerGeneration = 0
    /// The alarm ringing now (a test rings one with FakeSonosPlayer.ringAlarm).
    var ringingAlarm: Int?
    /// The last SnoozeAlarm duration ("00:10:00").
    var snoozed: String?

    struct SleepTimer: Sendable {
        let duration: TimeInterval
        let since: ContinuousClock.Instant
    }

    /// What GetRemainingSleepTimerDuration says: hh:mm:ss, "" when no timer runs.
    func sleepRemaining(at now: ContinuousClock.Instant) -> String {
        guard let t = sleepTimer else { return "" }
        let elapsed = now - t.since
        let left = max(0, t.duration - (Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18))
        let s = Int(left.rounded(.up))
        return String(format: "%02d:%02d:%02d", s / 3600, (s / 60) % 60, s % 60)
    }
}

/// What the tests read of those settings.
extension FakeSonosPlayer {
    private func settings<R: Sendable>(_ body: (PlayerSettings) -> R) -> R { core.read { body($0.players[index].settings) } }

    public var crossfade: Bool { settings(\.crossfade) }
    public var bass: Int { settings(\.bass) }
    public var treble: Int { settings(\.treble) }
    public var loudness: Bool { settings(\.loudness) }
    /// A SetEQ value ("NightMode", "DialogLevel", …), nil when never set.
    public func eq(_ type: String) -> Int? { settings { $0.eq[type] } }
    /// hh:mm:ss left on the sleep timer, "" when none runs.
    public var sleepTimerRemaining: String { core.read { $0.players[index].settings.sleepRemaining(at: core.now) } }
    public var snoozedFor: String? { settings(\.snoozed) }
    /// The URIs in the player's queue, in order.
    public var queueURIs: [String] { core.read { $0.players[index].queue.map(\.uri) } }

    /// Makes alarm `id` ring on this player (what SnoozeAlarm acts on).
    public func ringAlarm(_ id: Int) {
        core.mutate { $0.players[index].settings.ringingAlarm = id }
    }
}
