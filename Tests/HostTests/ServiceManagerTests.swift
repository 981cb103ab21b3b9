import Foundation
import LabKit
import Logging
@testable import SpeakerbridgeHost
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// The notify protocol's pieces without a daemon: the environment systemd hands over, the status
/// line, the socket address rules, and the order of READY/RELOADING on a real datagram socket.
final class ServiceManagerTests: XCTestCase {
    func testEnvironmentAndWhoTheWatchdogIsFor() {
        let none = ServiceManagerEnvironment(["NOTIFY_SOCKET": "", "WATCHDOG_USEC": "0"])
        XCTAssertNil(none.notifySocket)
        XCTAssertNil(none.watchdogTimeout(for: 7))
        XCTAssertNil(ServiceManagerEnvironment(["WATCHDOG_USEC": "soon"]).watchdogTimeout(for: 7))

        let mine = ServiceManagerEnvironment(["NOTIFY_SOCKET": "@sd", "WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "42"])
        XCTAssertEqual(mine.notifySocket, "@sd")
        XCTAssertEqual(mine.watchdogTimeout(for: 42), .seconds(30))
        XCTAssertNil(mine.watchdogTimeout(for: 43), "meant for another process")
        XCTAssertEqual(ServiceManagerEnvironment(["WATCHDOG_USEC": "500000"]).watchdogTimeout(for: 43), .milliseconds(500))
    }

    func testStatusLine() {
        var line = ServiceStatusLine(connected: false, broker: "10.0.0.2:1883", pluginsLoaded: false, speakers: 0)
        XCTAssertEqual(line.text, "connecting to 10.0.0.2:1883; loading plugins")
        line.lastProblem = "unreachable: connection refused"
        line.pluginsLoaded = true
        line.speakers = 1
        XCTAssertEqual(line.text, "reconnecting to 10.0.0.2:1883: unreachable: connection refused; 1 speaker")
        XCTAssertFalse(line.isReady)
        line.connected = true
        line.speakers = 3
        XCTAssertEqual(line.text, "connected to 10.0.0.2:1883; 3 speakers")
        XCTAssertTrue(line.isReady)
    }

    func testSocketAddresses() throws {
        XCTAssertThrowsError(try NotifySocket(address: "run/notify")) {
            XCTAssertTrue("\($0)".contains("neither an absolute path nor an abstract name"), "\($0)")
        }
        XCTAssertThrowsError(try NotifySocket(address: "/" + String(repeating: "x", count: 200))) {
            XCTAssertTrue("\($0)".contains("longer than a unix socket name can be"), "\($0)")
        }
        XCTAssertNoThrow(try NotifySocket(address: "@abstract"))
        let nobody = try NotifySocket(address: "/nonexistent/notify")
        XCTAssertNotNil(nobody.send(["READY=1"]), "a socket nobody binds is a reported problem, not a crash")
    }

    func testReadyOnceAndAroundReloads() throws {
        let dir = try TempDirectory(prefix: "sbsd")
        defer { dir.remove() }
        let receiver = try DatagramReceiver(path: dir.file("notify"))
        let notifier = ServiceNotifier(environment: .init(notifySocket: dir.file("notify")), logger: Logger(label: "test"))
        XCTAssertTrue(notifier.isListening)

        // A reload before the first READY=1 ends without one: the daemon is not ready yet.
        notifier.status("connecting")
        notifier.reloading()
        notifier.reloaded()
        let early = receiver.drain()
        XCTAssertEqual(early.count, 3)
        XCTAssertTrue(early[1].contains("RELOADING=1"))
        XCTAssertTrue(early[1].contains { $0.hasPrefix("MONOTONIC_USEC=") })
        XCTAssertEqual(early[2], ["STATUS=connecting"], "the status from before the reload, no READY=1")

        notifier.status("connecting")
        notifier.status("connecting")  // unchanged: not sent again
        notifier.ready(status: "connected")
        notifier.ready(status: "connected")  // READY=1 once
        XCTAssertEqual(receiver.drain(), [["READY=1", "STATUS=connected"]])

        // Ready during a reload waits for its end; after a reload READY=1 comes again.
        notifier.reloading()
        notifier.reloaded()
        let reload = receiver.drain()
        XCTAssertEqual(reload.count, 2)
        XCTAssertEqual(reload.last, ["READY=1", "STATUS=connected"])

        notifier.stopping()
        notifier.status("connected to elsewhere")  // after STOPPING=1 no status would be true
        XCTAssertEqual(receiver.drain(), [["STOPPING=1", "STATUS=stopping"]])
    }

    func testFirstReadyDuringAReloadWaitsForItsEnd() throws {
        let dir = try TempDirectory(prefix: "sbsd")
        defer { dir.remove() }
        let receiver = try DatagramReceiver(path: dir.file("notify"))
        let notifier = ServiceNotifier(environment: .init(notifySocket: dir.file("notify")), logger: Logger(label: "test"))
        notifier.reloading()
        notifier.ready(status: "connected")
        XCTAssertEqual(receiver.drain().count, 1, "only RELOADING=1")
        notifier.reloaded()
        XCTAssertEqual(receiver.drain(), [["READY=1", "STATUS=connected"]])
    }
}

/// A bound unix datagram socket that hands back what arrived, one array of lines per datagram.
private final class DatagramReceiver {
    private let fd: Int32

    init(path: String) throws {
        fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &addr.sun_path) { raw in
            for (i, b) in path.utf8.enumerated() { raw[i] = b }
        }
        let rc = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard rc == 0 else { throw LabError("bind \(path): \(String(cString: strerror(errno)))") }
    }

    deinit { close(fd) }

    func drain() -> [[String]] {
        var all: [[String]] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = recv(fd, &buffer, buffer.count, Int32(MSG_DONTWAIT))
            guard n > 0 else { return all }
            all.append(String(decoding: buffer[0..<n], as: UTF8.self).split(separator: "\n").map(String.init))
        }
    }
}
