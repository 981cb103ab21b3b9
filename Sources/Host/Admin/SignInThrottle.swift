import Foundation
import NIOCore
import Synchronization

/// Wrong admin tokens, counted per client: after `maxFailures` within `window`, that client's
/// requests that need the token are answered 429 for `lockout`, without a comparison.
///
/// The token is long enough (16 characters at least) that guessing it is hopeless at any rate a
/// listener can answer; the throttle is there so that someone trying shows up as one warning in
/// the log instead of a stream of 401s nobody reads, and gets a handful of guesses a minute.
/// A browser with a stale cookie fails once per page load, far below the limit.
///
/// A client is its IPv4 address, or its IPv6 /64 (one host commonly holds a whole /64, so
/// counting single IPv6 addresses would let it rotate past the limit). The table is bounded:
/// clients without a recent failure go first; when every tracked client is locked, a new one is
/// not counted until one lock ends.
final class SignInThrottle: Sendable {
    struct Settings: Sendable {
        var maxFailures = 20
        var window: Duration = .seconds(60)
        var lockout: Duration = .seconds(60)
        var maxTracked = 4_096
    }

    private struct Entry {
        /// The failures within the window, oldest first (at most `maxFailures`).
        var failures: [ContinuousClock.Instant] = []
        var lockedUntil: ContinuousClock.Instant?
    }

    let settings: Settings
    private let table = Mutex<[String: Entry]>([:])

    init(settings: Settings = Settings()) {
        self.settings = settings
    }

    /// Whole seconds until `client` may present a token again (at least 1), or nil when it may now.
    func retryAfter(_ client: String, now: ContinuousClock.Instant = .now) -> Int? {
        table.withLock { t in
            guard let until = t[client]?.lockedUntil else { return nil }
            guard now < until else {
                t[client] = nil
                return nil
            }
            let left = (until - now).components
            return max(1, Int(left.seconds) + (left.attoseconds > 0 ? 1 : 0))
        }
    }

    /// Records a wrong token from `client`; true when this one locked it (say so once).
    func failed(_ client: String, now: ContinuousClock.Instant = .now) -> Bool {
        table.withLock { t in
            if t[client] == nil, t.count >= settings.maxTracked, !Self.makeRoom(&t, now: now, window: settings.window) {
                return false
            }
            var entry = t[client] ?? Entry()
            if let until = entry.lockedUntil, now < until { return false }
            entry.lockedUntil = nil
            entry.failures.removeAll { now - $0 >= settings.window }
            entry.failures.append(now)
            let locks = entry.failures.count >= settings.maxFailures
            if locks {
                entry.failures = []
                entry.lockedUntil = now + settings.lockout
            }
            t[client] = entry
            return locks
        }
    }

    /// Clients tracked now (locked or with failures in the window, possibly stale ones).
    var trackedCount: Int { table.withLock { $0.count } }

    /// Forgets clients without a lock or a failure in the window; false when none could go.
    private static func makeRoom(_ t: inout [String: Entry], now: ContinuousClock.Instant, window: Duration) -> Bool {
        let before = t.count
        t = t.filter { _, entry in
            if let until = entry.lockedUntil { return now < until }
            return entry.failures.contains { now - $0 < window }
        }
        if t.count < before { return true }
        // Every client has failures in the window: the one whose last failure is oldest goes.
        let unlocked = t.filter { $0.value.lockedUntil == nil }
        guard let oldest = unlocked.min(by: { ($0.value.failures.last ?? now) < ($1.value.failures.last ?? now) }) else {
            return false
        }
        t[oldest.key] = nil
        return true
    }

    /// The key a client is counted under: an IPv4 address (also when a dual-stack listener sees it
    /// as `::ffff:a.b.c.d`), or the first 64 bits of an IPv6 address. nil: no IP address (a Unix socket).
    static func clientKey(_ address: SocketAddress?) -> String? {
        guard let ip = MediaConnectionLimits.hostKey(address) else { return nil }
        guard ip.contains(":") else { return ip }
        var bytes = in6_addr()
        guard inet_pton(AF_INET6, ip, &bytes) == 1 else { return ip }
        let prefix = withUnsafeBytes(of: &bytes) { Array($0.prefix(8)) }
        return stride(from: 0, to: 8, by: 2).map { String(UInt16(prefix[$0]) << 8 | UInt16(prefix[$0 + 1]), radix: 16) }
            .joined(separator: ":") + "::/64"
    }
}
