import NIOCore
import XCTest
@testable import SpeakerbridgeHost

/// The sign-in throttle on its own clock: wrong tokens counted per client within the window, the
/// lockout and its end, other clients untouched, the table's bound, and what a client is.
final class SignInThrottleTests: XCTestCase {
    private let start = ContinuousClock.now

    private func at(_ seconds: Double) -> ContinuousClock.Instant { start + .milliseconds(Int(seconds * 1000)) }

    func testTheTwentiethWrongTokenInAMinuteLocksThatClientForAMinute() {
        let throttle = SignInThrottle()
        for i in 0..<19 {
            XCTAssertFalse(throttle.failed("10.0.0.5", now: at(Double(i))), "failure \(i + 1)")
            XCTAssertNil(throttle.retryAfter("10.0.0.5", now: at(Double(i))))
        }
        XCTAssertTrue(throttle.failed("10.0.0.5", now: at(19)), "the 20th locks, and says so once")
        XCTAssertEqual(throttle.retryAfter("10.0.0.5", now: at(19)), 60)
        XCTAssertEqual(throttle.retryAfter("10.0.0.5", now: at(78.5)), 1)
        XCTAssertFalse(throttle.failed("10.0.0.5", now: at(30)), "failures while locked neither count nor lock again")
        XCTAssertNil(throttle.retryAfter("10.0.0.9", now: at(30)), "another client may go on")
        XCTAssertNil(throttle.retryAfter("10.0.0.5", now: at(79)), "the lock ends")
        XCTAssertFalse(throttle.failed("10.0.0.5", now: at(80)), "and the count starts again")
    }

    func testFailuresOlderThanTheWindowDoNotCount() {
        let throttle = SignInThrottle()
        for i in 0..<100 {
            // One every 4 s: at most 15 in any minute.
            XCTAssertFalse(throttle.failed("10.0.0.5", now: at(Double(i) * 4)))
        }
        XCTAssertNil(throttle.retryAfter("10.0.0.5", now: at(400)))
    }

    func testTheTableIsBoundedAndForgetsClientsWithoutRecentFailuresFirst() {
        var settings = SignInThrottle.Settings()
        settings.maxTracked = 3
        settings.maxFailures = 2
        let throttle = SignInThrottle(settings: settings)
        XCTAssertFalse(throttle.failed("a", now: at(0)))
        XCTAssertTrue(throttle.failed("a", now: at(1)))
        XCTAssertFalse(throttle.failed("b", now: at(2)))
        XCTAssertFalse(throttle.failed("c", now: at(3)))
        XCTAssertEqual(throttle.trackedCount, 3)
        // Full: d takes the place of the unlocked client whose last failure is oldest (b).
        XCTAssertFalse(throttle.failed("d", now: at(4)))
        XCTAssertEqual(throttle.trackedCount, 3)
        XCTAssertNotNil(throttle.retryAfter("a", now: at(4)), "a lock is never forgotten to make room")
        XCTAssertTrue(throttle.failed("d", now: at(5)))
        XCTAssertTrue(throttle.failed("c", now: at(5)))
        // Every tracked client locked: a new one is not counted until a lock ends.
        XCTAssertFalse(throttle.failed("e", now: at(6)))
        XCTAssertFalse(throttle.failed("e", now: at(7)))
        XCTAssertNil(throttle.retryAfter("e", now: at(7)))
        XCTAssertFalse(throttle.failed("e", now: at(200)), "after the locks ended the stale entries go")
        XCTAssertTrue(throttle.failed("e", now: at(201)))
    }

    func testAClientIsAnIPv4AddressOrAnIPv6Slash64() throws {
        XCTAssertEqual(SignInThrottle.clientKey(try SocketAddress(ipAddress: "192.168.1.9", port: 5000)), "192.168.1.9")
        XCTAssertEqual(SignInThrottle.clientKey(try SocketAddress(ipAddress: "::ffff:192.168.1.9", port: 5000)), "192.168.1.9")
        let one = SignInThrottle.clientKey(try SocketAddress(ipAddress: "2001:db8:1:2:aaaa::1", port: 5000))
        let other = SignInThrottle.clientKey(try SocketAddress(ipAddress: "2001:db8:1:2:bbbb:cccc:dddd:eeee", port: 5000))
        XCTAssertEqual(one, "2001:db8:1:2::/64")
        XCTAssertEqual(one, other, "one host commonly holds the whole /64")
        XCTAssertNotEqual(one, SignInThrottle.clientKey(try SocketAddress(ipAddress: "2001:db8:1:3::1", port: 5000)))
        XCTAssertNil(SignInThrottle.clientKey(nil))
    }
}
