import Foundation
import Logging
import XCTest

@testable import SpeakerbridgeHost

final class SpoolTests: XCTestCase {
    var dir = ""

    override func setUp() {
        dir = NSTemporaryDirectory() + "spool-\(UUID().uuidString)"
        try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    }

    override func tearDown() { try? FileManager.default.removeItem(atPath: dir) }

    func open(max: Int = 100, window: Double = 3600) throws -> Spool {
        try Spool(directory: dir, durability: .process, maxOutbound: max, dedupWindow: window, logger: Logger(label: "test"))
    }

    func record(_ s: Spool, _ key: String, _ text: String = "x") throws -> UInt64? {
        try s.recordRequest(key: key, topic: "sb/speak", payload: Array(text.utf8), responseTopic: nil, correlationData: nil)
    }

    func testRequestsSurviveReopenUntilDone() throws {
        var s = try open()
        let a = try XCTUnwrap(try record(s, "a"))
        let b = try XCTUnwrap(try record(s, "b"))
        try s.complete(a, publishing: [OutboundMessage(topic: "sb/event", payload: [1])])
        s = try open()
        XCTAssertEqual(s.pendingRequests(after: 0).map(\.seq), [b])
        XCTAssertEqual(s.outbound(after: 0, limit: 10).map(\.message.payload), [[1]])
    }

    func testSameKeyIsRecordedOnceBeforeAndAfterCompletionAndRestart() throws {
        var s = try open()
        let a = try XCTUnwrap(try record(s, "speak:1"))
        XCTAssertNil(try record(s, "speak:1"), "pending key must be a duplicate")
        try s.complete(a, publishing: [])
        XCTAssertNil(try record(s, "speak:1"), "done key must be a duplicate")
        s = try open()
        XCTAssertNil(try record(s, "speak:1"), "remembered across restarts")
        XCTAssertEqual(s.stats.duplicatesTotal, 1)
    }

    func testDedupWindowExpires() throws {
        let s = try open(window: 0.05)
        let a = try XCTUnwrap(try record(s, "speak:1"))
        try s.complete(a, publishing: [])
        Thread.sleep(forTimeInterval: 0.1)
        // The pruning happens as new keys are remembered.
        try s.complete(try XCTUnwrap(try record(s, "speak:2")), publishing: [])
        XCTAssertNotNil(try record(s, "speak:1"))
    }

    func testOutboundSettleAndOrder() throws {
        let s = try open()
        try s.publish((1...5).map { OutboundMessage(topic: "t/\($0)", payload: []) })
        let all = s.outbound(after: 0, limit: 10)
        XCTAssertEqual(all.map(\.message.topic), ["t/1", "t/2", "t/3", "t/4", "t/5"])
        s.settle([all[0].seq, all[2].seq])
        XCTAssertEqual(s.outbound(after: 0, limit: 10).map(\.message.topic), ["t/2", "t/4", "t/5"])
        XCTAssertEqual(s.outbound(after: all[3].seq, limit: 10).map(\.message.topic), ["t/5"])
        let reopened = try open()
        XCTAssertEqual(reopened.outbound(after: 0, limit: 10).map(\.message.topic), ["t/2", "t/4", "t/5"])
    }

    func testRetainedStateCoalescesToLatest() throws {
        let s = try open()
        try s.publish([OutboundMessage(topic: "sb/kitchen/state", payload: [1], retain: true)])
        try s.publish([OutboundMessage(topic: "sb/event", payload: [9])])
        try s.publish([OutboundMessage(topic: "sb/kitchen/state", payload: [2], retain: true)])
        XCTAssertEqual(s.outbound(after: 0, limit: 10).map(\.message.payload), [[9], [2]])
        XCTAssertEqual(s.stats.coalescedTotal, 1)
        XCTAssertEqual(try open().outbound(after: 0, limit: 10).map(\.message.payload), [[9], [2]])
    }

    func testBoundDropsOldestEventsAndCountsThem() throws {
        let s = try open(max: 10)
        try s.publish([OutboundMessage(topic: "sb/state", payload: [0], retain: true)])
        for i in 1...20 { try s.publish([OutboundMessage(topic: "sb/event", payload: [UInt8(i)])]) }
        let left = s.outbound(after: 0, limit: 100)
        XCTAssertEqual(left.count, 10)
        XCTAssertEqual(left.first?.message.retain, true, "state is kept, events are dropped first")
        XCTAssertEqual(left.dropFirst().map { Int($0.message.payload[0]) }, Array(12...20))
        XCTAssertEqual(s.stats.droppedTotal, 11)
    }

    func testTornTailIsCutAndEarlierRecordsSurvive() throws {
        var s = try open()
        _ = try record(s, "a")
        _ = try record(s, "b")
        s = try open()  // release nothing; simulate a torn write by appending garbage
        let handle = try XCTUnwrap(FileHandle(forWritingAtPath: dir + "/spool.log"))
        handle.seekToEndOfFile()
        handle.write(Data([40, 0, 0, 0, 1, 2, 3]))
        try handle.close()
        s = try open()
        XCTAssertEqual(s.pendingRequests(after: 0).map(\.key), ["a", "b"])
        _ = try record(s, "c")
        XCTAssertEqual(try open().pendingRequests(after: 0).map(\.key), ["a", "b", "c"])
    }

    func testCompactionKeepsOnlyLiveRecords() throws {
        let s = try open(max: 1_000_000)
        let payload = [UInt8](repeating: 7, count: 4096)
        var lastPending: UInt64 = 0
        for i in 0..<3000 {
            let seq = try XCTUnwrap(try s.recordRequest(key: "k\(i)", topic: "sb/speak", payload: payload, responseTopic: nil, correlationData: nil))
            if i % 1000 == 999 { lastPending = seq; continue }
            try s.complete(seq, publishing: [OutboundMessage(topic: "sb/e", payload: payload)])
        }
        let unsent = s.outbound(after: 0, limit: 10_000)
        s.settle(unsent.dropLast().map(\.seq))
        try s.publish([OutboundMessage(topic: "sb/e", payload: [1])])
        let size = try XCTUnwrap(FileManager.default.attributesOfItem(atPath: dir + "/spool.log")[.size] as? Int)
        XCTAssertLessThan(size, 3000 * 2 * 4096, "the file was compacted at least once")
        let reopened = try open(max: 1_000_000)
        XCTAssertEqual(reopened.pendingRequests(after: 0).count, 3)
        XCTAssertEqual(reopened.pendingRequests(after: 0).last?.seq, lastPending)
        XCTAssertNil(try record(reopened, "k5"), "finished keys survive compaction")
        XCTAssertEqual(reopened.outbound(after: 0, limit: 10).count, 2)
    }
}
