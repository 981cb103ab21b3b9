import Foundation
import LabKit
import XCTest

/// A full state disk under the real daemon: requests that cannot be journalled are not acknowledged
/// (the broker keeps and redelivers them), nothing acknowledged before is lost, and once space
/// returns everything is answered exactly once.
final class DiskFullTests: XCTestCase {
    func testFullStateDiskWithholdsAcknowledgementsAndLosesNothing() throws {
        try requireRoot("a full disk needs a tmpfs mount")
        let dir = try TempDirectory(prefix: "sbdiskfull")
        let disk = try TinyDisk(at: dir.file("state"), megabytes: 2)
        let broker = try MosquittoBroker()
        try broker.start()
        // The daemon's state_dir is the tmpfs (`<dir>/state`); its log stays outside it.
        let daemon = try DaemonUnderTest(brokerPort: broker.port, stateDirectory: dir)
        addTeardownBlock {
            daemon.process.kill9()
            _ = daemon.process.waitForExit(timeout: 5)
            disk.unmount()
            dir.remove()
        }
        let responses = "\(daemon.base)/bridge/response/health"
        let watch = try watcher(port: broker.port, [daemon.topics.state, responses])
        try daemon.start()
        try waitForOnline(watch, daemon)
        let clientID = try String(contentsOfFile: disk.mountPoint + "/client_id", encoding: .utf8)
            .trimmingCharacters(in: .whitespacesAndNewlines)
        let publisher = try TestClient()
        try publisher.connect(port: broker.port)

        func request(_ transaction: String) throws {
            try publisher.publish(topic: "\(daemon.base)/bridge/request/health",
                                  payload: #"{"transaction":"\#(transaction)"}"#, qos: 1)
        }
        /// How often each transaction was answered so far.
        func answers() -> [String: Int] {
            var count: [String: Int] = [:]
            for m in watch.messages(on: responses) {
                if let t = json(m)["transaction"] as? String { count[t, default: 0] += 1 }
            }
            return count
        }
        func refusals() -> Int { daemon.count("intake: cannot record a request") }

        // 1. Disk with room: 20 requests, each answered once.
        let before = (0..<20).map { "before-\($0)" }
        for t in before { try request(t) }
        try publisher.waitForAcks()
        XCTAssertTrue(waitUntil(timeout: 20) { before.allSatisfy { answers()[$0] != nil } }, "not all answered: \(answers())")

        // 2. Fill the disk to the last page.
        try disk.fill()
        XCTAssertEqual(disk.freeBytes, 0, "the filler should leave no free space")

        // 3. The journal may still own a few free bytes at the end of its last page; requests use
        //    them up until the first one cannot be recorded. These may be answered now or later.
        var slack: [String] = []
        while refusals() == 0 {
            let t = "slack-\(slack.count)"
            slack.append(t)
            XCTAssertLessThan(slack.count, 100, "a full disk never refused a request:\n\(daemon.log().suffix(3000))")
            if slack.count >= 100 { return }
            try request(t)
            // Answered, refused, or recorded with an answer that cannot be recorded (the router
            // retries that one until space returns).
            _ = waitUntil(timeout: 5) { answers()[t] != nil || refusals() > 0 || daemon.count("cannot record the outcome") > 0 }
        }
        XCTAssertTrue(daemon.log().contains("No space left on device"), daemon.log().suffix(2000).description)

        // 4. Now nothing fits: requests reach the daemon, are refused before their PUBACK, the
        //    connection is cut and the broker redelivers them, again and again.
        let brokerLogMark = broker.logText().utf8.count
        let full = (0..<10).map { "full-\($0)" }
        let refusedBefore = refusals()
        for t in full { try request(t) }
        try publisher.waitForAcks()  // the broker has them all; the daemon has acknowledged none
        XCTAssertTrue(waitUntil(timeout: 30) { self.lost(daemon) >= 3 && refusals() >= refusedBefore + 3 },
                      "the daemon should refuse redeliveries and reconnect:\n\(daemon.log().suffix(3000))")
        let whileFull = answers()
        XCTAssertEqual(full.filter { whileFull[$0] != nil }, [], "answered although it could not be journalled")
        let brokerSaw = String(broker.logText().utf8.dropFirst(brokerLogMark)) ?? ""
        XCTAssertTrue(brokerSaw.contains("Sending PUBLISH to \(clientID) (d1, q1"),
                      "the broker should redeliver the unacknowledged requests:\n\(brokerSaw.suffix(3000))")
        XCTAssertFalse(brokerSaw.contains("Received PUBACK from \(clientID)"),
                       "the daemon acknowledged a request it could not record:\n\(brokerSaw.suffix(3000))")
        XCTAssertTrue(daemon.process.isRunning, "the daemon must not die of a full disk")
        XCTAssertTrue(daemon.log().split(separator: "\n").contains { $0.contains(" critical ") && $0.contains("intake: cannot record a request") && $0.contains("No space left on device") },
                      "refusals are logged at critical level with the reason")

        // 5. Space again: every request is answered exactly once, the earlier ones are not repeated.
        try disk.free()
        let all = before + slack + full
        let done = waitUntil(timeout: 30) { let a = answers(); return all.allSatisfy { a[$0] != nil } }
        let final = answers()
        XCTAssertTrue(done, "unanswered after space returned: \(all.filter { final[$0] == nil })\n\(daemon.log().suffix(3000))\n--- broker:\n\(broker.logText().split(separator: "\n").filter { $0.contains(clientID) }.suffix(80).joined(separator: "\n"))")
        XCTAssertEqual(all.filter { (final[$0] ?? 0) > 1 }, [], "answered more than once")
        XCTAssertEqual(Set(final.keys).subtracting(all), [], "answers nobody asked for")

        // 6. And the journal is whole: a restart replays nothing and answers nothing again.
        daemon.process.terminate()
        XCTAssertEqual(daemon.process.waitForExit(timeout: 15), 0, daemon.log().suffix(2000).description)
        watch.clearMessages()
        try daemon.start()
        try waitForOnline(watch, daemon, after: .now)
        try request("after-restart")
        _ = try watch.waitFor(responses, timeout: 10) { json($0)["transaction"] as? String == "after-restart" }
        XCTAssertEqual(Set(answers().keys), ["after-restart"], "a restart answered old requests again")
        XCTAssertFalse(daemon.log().contains("resuming"), "nothing should be left unfinished in the journal")
    }

    /// Connections the daemon gave up because it could not record a request.
    private func lost(_ daemon: DaemonUnderTest) -> Int {
        daemon.count("journal (rc -1): could not record an incoming request")
    }
}

/// A tmpfs of a few megabytes mounted for one test, which the test fills to the last page and frees.
final class TinyDisk: Sendable {
    let mountPoint: String
    private var filler: String { mountPoint + "/filler" }

    init(at mountPoint: String, megabytes: Int) throws {
        try FileManager.default.createDirectory(atPath: mountPoint, withIntermediateDirectories: true)
        let result = try Shell.run(["mount", "-t", "tmpfs", "-o", "size=\(megabytes)m,mode=0700", "sbdiskfull", mountPoint])
        guard result.status == 0 else { throw LabError("mount -t tmpfs at \(mountPoint): \(result.err)") }
        self.mountPoint = mountPoint
    }

    /// Appends to a filler file until the file system refuses with ENOSPC.
    func fill() throws {
        let fd = open(filler, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw LabError("cannot create \(filler): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        let chunk = [UInt8](repeating: 0x5A, count: 1 << 16)
        while true {
            let n = chunk.withUnsafeBytes { write(fd, $0.baseAddress!, $0.count) }
            if n > 0 { continue }
            if n < 0, errno == EINTR { continue }
            if n < 0, errno == ENOSPC { return }
            throw LabError("filling \(filler): \(n < 0 ? String(cString: strerror(errno)) : "wrote nothing")")
        }
    }

    func free() throws {
        guard unlink(filler) == 0 else { throw LabError("cannot remove \(filler): \(String(cString: strerror(errno)))") }
    }

    var freeBytes: Int {
        var s = statvfs()
        guard statvfs(mountPoint, &s) == 0 else { return -1 }
        return Int(s.f_bavail) * Int(s.f_frsize)
    }

    func unmount() {
        if (try? Shell.run(["umount", mountPoint]))?.status != 0 {
            _ = try? Shell.run(["umount", "-l", mountPoint])
        }
    }
}

private extension MosquittoBroker {
    func logText() -> String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }
}
