/// When to try again after losing the broker: exponential backoff with full jitter, capped, reset
/// after a stable connection. libmosquitto's own policy is quadratic and stops for good after some
/// MQTT 5 server disconnects, so the session owns this one.
public struct ReconnectPolicy: Sendable {
    public let minDelay: Double
    public let maxDelay: Double
    public let stableAfter: Double
    public private(set) var failures = 0

    public init(minDelay: Double, maxDelay: Double, stableAfter: Double) {
        self.minDelay = minDelay
        self.maxDelay = maxDelay
        self.stableAfter = stableAfter
    }

    /// The delay before the next attempt: uniform in [0, min(max, min * 2^failures)].
    public mutating func nextDelay<R: RandomNumberGenerator>(using rng: inout R) -> Double {
        let ceiling = min(maxDelay, minDelay * Double(1 << min(failures, 30)))
        failures += 1
        return Double.random(in: 0...ceiling, using: &rng)
    }

    public mutating func nextDelay() -> Double {
        var rng = SystemRandomNumberGenerator()
        return nextDelay(using: &rng)
    }

    /// A connection that ended after `duration` seconds: a stable one forgives earlier failures.
    public mutating func connectionEnded(after duration: Double) {
        if duration >= stableAfter { failures = 0 }
    }
}

/// Recognises a twin: another client with our client id, each of us kicking the other off the broker.
/// Symptom: the broker closes our connection shortly after each connect, several times in a row.
public struct TwinDetector: Sendable {
    public let threshold: Int
    public let window: Double
    public private(set) var shortKicks = 0
    public private(set) var suspected = false

    public init(threshold: Int, window: Double) {
        self.threshold = threshold
        self.window = window
    }

    /// The current connection has outlived the window: whoever was kicking us has stopped.
    /// Returns true when that clears a suspicion.
    public mutating func connectionStable() -> Bool {
        shortKicks = 0
        defer { suspected = false }
        return suspected
    }

    /// Returns true when this disconnect makes the twin suspicion new.
    /// `brokerReachable`: whether the broker accepted a TCP connection right after ours closed. A
    /// twin leaves the broker up; a crashed or restarting broker does not, and must not count.
    public mutating func connectionEnded(after duration: Double, reason: DisconnectReason, brokerReachable: Bool = true) -> Bool {
        if duration < window, reason.mayBeTakeover, !brokerReachable { return false }
        guard duration < window, reason.mayBeTakeover else {
            if duration >= window { shortKicks = 0; suspected = false }
            return false
        }
        shortKicks += 1
        if shortKicks >= threshold, !suspected {
            suspected = true
            return true
        }
        return false
    }
}
