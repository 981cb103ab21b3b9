import Foundation
import Logging
import Synchronization
import XCTest

@testable import SpeakerbridgeHost

/// The router on its own: a real spool in a temporary folder, the intake in front of it, handlers
/// written for the test, no daemon, no broker.
final class RouterTests: XCTestCase {
    var dir = ""
    let topics = Topics(base: "sb")
    let logger = Logger(label: "router-test")

    override func setUp() {
        dir = NSTemporaryDirectory() + "router-\(UUID().uuidString)"
        try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    }

    override func tearDown() { try? FileManager.default.removeItem(atPath: dir) }

    /// A new process opening the journal (reopening without a clean stop is what a crash leaves).
    func openSpool() throws -> Spool {
        try Spool(directory: dir, durability: .process, maxOutbound: 1000, dedupWindow: 3600, logger: logger)
    }

    /// A request on `sb/bridge/request/<name>`, as the session hands it over.
    func send(_ intake: RequestIntake, _ name: String, transaction: String, mid: Int32) {
        let payload = Array(#"{"transaction":"\#(transaction)"}"#.utf8)
        let recorded = payload.withUnsafeBytes {
            intake.receive(topic: topics.request(name), payload: $0, qos: 1, mid: mid, responseTopic: nil, correlationData: nil)
        }
        XCTAssertTrue(recorded)
    }

    /// The answers published so far, as (topic, body).
    func answers(_ spool: Spool) -> [(topic: String, body: JSONValue)] {
        spool.outbound(after: 0, limit: 1000).compactMap { queued in
            (try? JSONValue.parse(queued.message.payload)).map { (queued.message.topic, $0) }
        }
    }

    struct NeverHappened: Error, CustomStringConvertible { let description: String }

    func waitUntil(_ what: String, timeout: Double = 5, _ condition: () -> Bool) async throws {
        let deadline = Date().addingTimeInterval(timeout)
        while !condition() {
            if Date() > deadline { throw NeverHappened(description: "within \(timeout) s: \(what)") }
            try await Task.sleep(for: .milliseconds(5))
        }
    }

    func start(_ router: Router) -> Task<Void, Never> {
        Task { try? await router.run() }
    }

    func router(_ spool: Spool, _ intake: RequestIntake, _ handlers: [any BridgeRequestHandler], maxAttempts: Int = 2) -> Router {
        Router(spool: spool, intake: intake, topics: topics, handlers: handlers, announcer: NoSpeakersAnnouncer(),
               maxAttempts: maxAttempts, logger: logger)
    }

    func testRequestsAreAnsweredInArrivalOrder() async throws {
        let spool = try openSpool()
        let intake = RequestIntake(spool: spool, topics: topics, logger: logger)
        let log = CallLog()
        for i in 0..<20 { send(intake, i % 2 == 0 ? "even" : "odd", transaction: "t\(i)", mid: Int32(i + 1)) }
        let task = start(router(spool, intake, [Recording(name: "even", log: log), Recording(name: "odd", log: log)]))
        defer { task.cancel() }
        try await waitUntil("all answered") { spool.pendingCount == 0 }
        XCTAssertEqual(log.calls, (0..<20).map { "t\($0)" })
        let transactions = answers(spool).compactMap { $0.body.objectValue?["transaction"]?.stringValue }
        XCTAssertEqual(transactions, (0..<20).map { "t\($0)" }, "answers are published in the same order")
    }

    func testASlowHandlerDoesNotHoldTheOrderedPath() async throws {
        let spool = try openSpool()
        let intake = RequestIntake(spool: spool, topics: topics, logger: logger)
        let gate = Gate()
        let log = CallLog()
        send(intake, "slow", transaction: "s", mid: 1)
        send(intake, "fast", transaction: "f1", mid: 2)
        send(intake, "fast", transaction: "f2", mid: 3)
        let task = start(router(spool, intake, [Held(name: "slow", gate: gate), Recording(name: "fast", log: log)]))
        defer { task.cancel() }
        try await waitUntil("the fast requests answered") { log.calls == ["f1", "f2"] }
        XCTAssertEqual(spool.pendingCount, 1, "the slow one is still running")
        XCTAssertEqual(answers(spool).map(\.topic), [topics.response("fast"), topics.response("fast")])
        gate.open()
        try await waitUntil("the slow request answered") { spool.pendingCount == 0 }
        XCTAssertEqual(answers(spool).last?.topic, topics.response("slow"))
    }

    func testAnUnknownRequestIsAnsweredWithTheKnownOnes() async throws {
        let spool = try openSpool()
        let intake = RequestIntake(spool: spool, topics: topics, logger: logger)
        send(intake, "nope", transaction: "x", mid: 1)
        let task = start(router(spool, intake, [Recording(name: "health", log: CallLog())]))
        defer { task.cancel() }
        try await waitUntil("answered") { spool.pendingCount == 0 }
        let answer = try XCTUnwrap(answers(spool).first)
        XCTAssertEqual(answer.topic, topics.response("nope"))
        XCTAssertEqual(answer.body.objectValue?["status"]?.stringValue, "error")
        XCTAssertEqual(answer.body.objectValue?["transaction"]?.stringValue, "x")
        XCTAssertEqual(answer.body.objectValue?["error"]?.stringValue, "unknown request 'nope'; known requests: health")
    }

    func testARequestIsRetriedAfterOneCrashAndQuarantinedAfterTwo() async throws {
        var spool = try openSpool()
        var intake = RequestIntake(spool: spool, topics: topics, logger: logger)
        send(intake, "work", transaction: "once", mid: 1)
        send(intake, "work", transaction: "twice", mid: 2)
        let seqs = spool.pendingRequests(after: 0).map(\.seq)
        XCTAssertEqual(seqs.count, 2)
        // The daemon died while processing "once", and twice while processing "twice".
        spool.beginAttempt(seqs[0])
        spool.beginAttempt(seqs[1])
        spool = try openSpool()
        spool.beginAttempt(seqs[1])
        spool = try openSpool()
        XCTAssertEqual(spool.uncleanExits(of: seqs[0]), 1)
        XCTAssertEqual(spool.uncleanExits(of: seqs[1]), 2)

        intake = RequestIntake(spool: spool, topics: topics, logger: logger)
        let log = CallLog()
        let task = start(router(spool, intake, [Recording(name: "work", log: log)], maxAttempts: 2))
        try await waitUntil("both settled") { spool.pendingCount == 0 }
        XCTAssertEqual(log.calls, ["once"], "run again after one crash; not after two")
        XCTAssertEqual(spool.deadLetters.map(\.request.seq), [seqs[1]])
        let refusal = try XCTUnwrap(answers(spool).first { $0.body.objectValue?["transaction"]?.stringValue == "twice" })
        XCTAssertEqual(refusal.body.objectValue?["status"]?.stringValue, "error")
        XCTAssertTrue(refusal.body.objectValue?["error"]?.stringValue?.hasPrefix("quarantined: the daemon stopped 2 times") == true)

        // A dead letter put back (speakerbridge journal retry) is processed like a new request.
        XCTAssertNotNil(try spool.retryDeadLetter(seqs[1]))
        intake.ring()
        try await waitUntil("the retried one answered") { log.calls.count == 2 }
        XCTAssertEqual(log.calls, ["once", "twice"])
        XCTAssertTrue(spool.deadLetters.isEmpty)
        task.cancel()
        await task.value
    }
}

/// Records the transaction of every request it answers, in call order.
private struct Recording: BridgeRequestHandler {
    let name: String
    let isSlow = false
    let log: CallLog

    func handle(_ request: BridgeRequest) async throws(BridgeRequestError) -> JSONValue {
        log.append(request.transaction?.stringValue ?? "-")
        return .object([:])
    }
}

/// A slow request that answers only once the test opens its gate.
private struct Held: BridgeRequestHandler {
    let name: String
    let isSlow = true
    let gate: Gate

    func handle(_ request: BridgeRequest) async throws(BridgeRequestError) -> JSONValue {
        await gate.wait()
        return .object([:])
    }
}

private final class CallLog: Sendable {
    private let entries = Mutex<[String]>([])
    func append(_ entry: String) { entries.withLock { $0.append(entry) } }
    var calls: [String] { entries.withLock { $0 } }
}

private final class Gate: Sendable {
    private let ready = Readiness<Void>()
    func open() { ready.open() }
    func wait() async { _ = try? await ready.wait() }
}
