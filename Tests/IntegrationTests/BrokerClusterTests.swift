import Foundation
import LabKit
import Synchronization
import XCTest

/// The daemon against brokers other than a single mosquitto (`make test-brokers`; `make test` skips
/// this suite: RabbitMQ alone needs ~25 s to form its cluster). A 3-node RabbitMQ (quorum queues)
/// and a 3-node NATS (JetStream): the daemon is given all three nodes with `mqtt.protocol: auto`,
/// and the node it is on is killed with -9 in the middle of 1,000 QoS 1 requests sent through
/// another node; it must be on another node within 2 s plus the backoff floor, say so in `health`,
/// and process every request exactly once. amqtt and mosquitto single nodes: the same 1,000
/// requests with protocol auto, half of them queued while the daemon is stopped. Everything binds
/// 127.0.0.1 on free ports; no root needed.
final class BrokerClusterTests: XCTestCase {
    /// `mqtt.reconnect.min_delay` of the daemons here (DaemonUnderTest.fastReconnect): the backoff
    /// floor the failover bound allows on top of its 2 s.
    static let backoffFloor = Double(DaemonUnderTest.fastReconnect["mqtt.reconnect.min_delay"] ?? "0") ?? 0

    /// The RabbitMQ cluster, formed once for the class (20-26 s) and stopped in `tearDown()`.
    static let rabbit = Mutex<RabbitMQCluster?>(nil)

    override class func tearDown() {
        let cluster = rabbit.withLock { c in defer { c = nil }; return c }
        cluster?.stop()
        super.tearDown()
    }

    func rabbitCluster() throws -> RabbitMQCluster {
        try Self.rabbit.withLock { current in
            if let current { return current }
            let cluster = try RabbitMQCluster(queueType: "quorum")
            do {
                let took = try cluster.start()
                print("RabbitMQ: 3-node cluster (quorum queues) formed in \(fmt(took)) s")
            } catch {
                cluster.stop()
                throw error
            }
            current = cluster
            return cluster
        }
    }

    // MARK: clusters: the daemon's node killed

    func testRabbitMQClusterNodeKilledUnderTheDaemon() throws {
        let cluster = try rabbitCluster()
        let run = try failover(broker: "RabbitMQ", addresses: cluster.nodes.map(\.address)) { address in
            let node = try XCTUnwrap(cluster.node(address: address))
            cluster.kill9(node)
        }
        XCTAssertLessThanOrEqual(run.failover, 2 + Self.backoffFloor, "connected to another node after \(fmt(run.failover)) s")
    }

    func testNATSClusterNodeKilledUnderTheDaemon() throws {
        // Requests NATS had handed to the daemon on the killed node come again only after ack_wait
        // (30 s by default: then the last ones were processed 32.5 s after the first was sent).
        let cluster = try NATSCluster(ackWait: 5)
        defer { cluster.stop() }
        print("NATS: 3-node cluster (JetStream, MQTT) ready in \(fmt(try cluster.start())) s")
        // Killing the node that leads `$MQTT_sess` stalls every CONNECT for ~10 s (see NATSCluster;
        // measured by the next test), and the one leading `$MQTT_rmsgs` stalls the daemon's retained
        // bridge/state until NATS closes the connection (4 s): the daemon starts on a node that leads
        // no MQTT stream if there is one, else on one that does not lead `$MQTT_sess`.
        let leaders = cluster.streamLeaders()
        let leader = try XCTUnwrap(leaders["$MQTT_sess"], "no $MQTT_sess leader: \(cluster.jetStreamInfo())")
        let mqttStreamLeaders = Set(leaders.filter { $0.key.hasPrefix("$MQTT_") }.values)
        let first = try XCTUnwrap(cluster.nodes.first { !mqttStreamLeaders.contains($0.name) } ?? cluster.nodes.first { $0.name != leader })
        let ordered = [first] + cluster.nodes.filter { $0.index != first.index }
        print("NATS: stream leaders \(leaders.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value)" }.joined(separator: ", ")); "
            + "the daemon starts on \(first.name) (\(first.address))")
        let run = try failover(broker: "NATS", addresses: ordered.map(\.address)) { address in
            let node = try XCTUnwrap(cluster.node(address: address))
            XCTAssertNotEqual(node.name, cluster.streamLeader("$MQTT_sess"), "the node to kill leads $MQTT_sess")
            cluster.kill9(node)
        }
        XCTAssertLessThanOrEqual(run.failover, 2 + Self.backoffFloor, "connected to another node after \(fmt(run.failover)) s")
        printBrokerLines(cluster.nodes.map { ($0.name, $0.logPath) })
    }

    /// What the broker nodes logged about the daemon's client (its ids start with "speakerbridge-"):
    /// why NATS closed a connection, for the record.
    func printBrokerLines(_ logs: [(String, String)]) {
        for (name, path) in logs {
            let text = (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
            for line in text.split(separator: "\n").filter({ $0.contains("speakerbridge-") && !$0.contains("[INF]") }).prefix(6) {
                print("  \(name): \(line.prefix(300))")
            }
        }
    }

    /// The case the previous test avoids, measured and printed: no bound on the time (NATS holds
    /// each CONNECT 4 s until the stream has a new leader), but still nothing lost or doubled.
    func testNATSSessionStreamLeaderKilledUnderTheDaemon() throws {
        let cluster = try NATSCluster(ackWait: 5)
        defer { cluster.stop() }
        print("NATS: 3-node cluster (JetStream, MQTT) ready in \(fmt(try cluster.start())) s")
        let leaders = cluster.streamLeaders()
        let leader = try XCTUnwrap(leaders["$MQTT_sess"], "no $MQTT_sess leader: \(cluster.jetStreamInfo())")
        let first = try XCTUnwrap(cluster.node(named: leader))
        print("NATS: stream leaders \(leaders.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value)" }.joined(separator: ", "))")
        let ordered = [first] + cluster.nodes.filter { $0.index != first.index }
        print("NATS: the daemon starts on the $MQTT_sess leader \(first.name) (\(first.address))")
        let run = try failover(broker: "NATS ($MQTT_sess leader killed)", addresses: ordered.map(\.address)) { address in
            cluster.kill9(try XCTUnwrap(cluster.node(address: address)))
        }
        print("NATS: new $MQTT_sess leader \(cluster.streamLeader("$MQTT_sess") ?? "none"); failover took \(fmt(run.failover)) s (no bound asserted)")
        printBrokerLines(cluster.nodes.map { ($0.name, $0.logPath) })
    }

    // MARK: single nodes: protocol auto, requests queued while the daemon is away

    func testAMQTTWithProtocolAutoAndReplayedRequests() throws {
        let broker = try AMQTTBroker()
        defer { broker.stop() }
        print("amqtt: ready in \(fmt(try broker.start())) s")
        // amqtt answers a v5 CONNECT with a user name with nothing at all: the connect timeout is
        // what sends the daemon to 3.1.1, so it is short here.
        // log_level debug: the daemon says when it processes a request replayed with the retain flag.
        try queuedWhileAway(broker: "amqtt", address: broker.address, username: broker.username,
                            settings: ["mqtt.reconnect.connect_timeout": "3", "mqtt.username": "speakerbridge",
                                       "log_level": "debug"],
                            expectedVersion: "3.1.1") { daemon in
            let replayed = daemon.count("the broker replayed from the session's queue with the retain flag set")
            print("amqtt: \(replayed) requests came back with the retain flag and were processed")
            XCTAssertGreaterThan(replayed, 0, "amqtt replays a session's queue with the retain flag")
            XCTAssertEqual(daemon.count("ignoring a retained message"), 0, String(daemon.log().suffix(3000)))
        }
    }

    func testMosquittoWithProtocolAuto() throws {
        let broker = try MosquittoBroker()
        defer { broker.stop() }
        try broker.start()
        try queuedWhileAway(broker: "mosquitto", address: "127.0.0.1:\(broker.port)", username: nil,
                            settings: [:], expectedVersion: "5")
    }

    // MARK: scenarios

    struct FailoverRun {
        /// Seconds from the kill -9 to the daemon's "connected to" line naming another node.
        let failover: Double
    }

    /// The daemon on `addresses[0]` of the list, a watcher and a publisher on the other two; 1,000
    /// QoS 1 requests at 200/s, and after 500 `kill` takes down the node the daemon is on.
    func failover(broker: String, addresses: [String], kill: (String) throws -> Void) throws -> FailoverRun {
        let port = { (address: String) in Int(address.split(separator: ":").last!)! }
        // One --broker per node: the daemon's mqtt.brokers list, in this order.
        let daemon = try DaemonUnderTest(brokerPort: port(addresses[0]), moreBrokers: Array(addresses.dropFirst()),
                                         settings: ["mqtt.protocol": "auto", "media.bind": "127.0.0.1",
                                                    "mqtt.heartbeat": "\(Self.heartbeat)"])
        defer { daemon.stopAndRemoveState() }
        let started = ContinuousClock.now
        try daemon.start()
        try daemon.waitUntilConnected(timeout: 30)
        let first = try XCTUnwrap(connection(in: daemon.log()).last)
        print("\(broker): daemon connected to \(first.broker) with MQTT \(first.version) after \(fmt(seconds(since: started))) s")
        XCTAssertEqual(first.version, "3.1.1", "protocol auto ends on 3.1.1 by itself\n\(daemon.log())")
        XCTAssertTrue(daemon.log().contains("did not take MQTT 5"), daemon.log())
        let others = addresses.filter { $0 != first.broker }
        XCTAssertEqual(others.count, addresses.count - 1, "connected to \(first.broker), which is not in the list")

        let watch = try client311(port: port(others[0]), id: "watch-\(daemon.base)",
                                  subscribing: [daemon.topics.events, "\(daemon.base)/bridge/response/#"])
        let publisher = try client311(port: port(others[1]), id: "pub-\(daemon.base)")
        let requester = BridgeRequester(client: watch, base: daemon.base)
        // Answered through another node: the daemon's subscriptions are in place cluster-wide.
        let before = try requester.request("health", timeout: 30).json["data"] as? [String: Any] ?? [:]
        XCTAssertEqual(before["broker"] as? String, first.broker)

        let connects = LogWatch(daemon, waitingFor: "mqtt: connected to")
        let ids = (0..<1000).map { "\(daemon.base)-\($0)" }
        var killedAt: ContinuousClock.Instant?
        let begin = ContinuousClock.now
        try publisher.publishSpeakRequests(ids, on: daemon.topics.speak, perSecond: 200) { i in
            guard i == 500 else { return }
            killedAt = .now
            try kill(first.broker)
        }
        let killed = try XCTUnwrap(killedAt)
        guard let reconnected = connects.wait(timeout: 60) else {
            XCTFail("\(broker): no new connection within 60 s of the kill\n\(daemon.log().suffix(4000))")
            return FailoverRun(failover: .infinity)
        }
        let took = seconds(between: killed, and: reconnected)
        let now = try XCTUnwrap(connection(in: daemon.log()).last)
        print("\(broker): node \(first.broker) killed -9 → daemon connected to \(now.broker) (MQTT \(now.version), session \(now.session)) after \(fmt(took)) s")
        XCTAssertNotEqual(now.broker, first.broker)
        XCTAssertTrue(others.contains(now.broker), "\(now.broker) is not one of \(others)")
        XCTAssertEqual(now.session, "resumed", "the session goes on on the other node")
        XCTAssertTrue(daemon.log().contains("mqtt: moving from \(first.broker) to"), daemon.log())

        let afterKill = daemon.log().split(separator: "\n").filter { $0.contains("mqtt: ") }.drop { !$0.contains("cannot connect") && !$0.contains("lost") && !$0.contains("moving") }
        for line in afterKill.prefix(16) { print("\(broker):   \(line.components(separatedBy: "] ").last ?? "")") }

        assertEachProcessedExactlyOnce(ids, watch, daemon, broker: broker, since: begin)
        let health = try requester.request("health", timeout: 30).json["data"] as? [String: Any] ?? [:]
        XCTAssertEqual(health["broker"] as? String, now.broker, "health: \(health)")
        // `failover` is the last move: the one away from the killed node, or a later one when the
        // next node closed the first CONNECT (NATS does while its session record is being taken
        // over) and the daemon went on to the third.
        let failover = health["failover"] as? [String: Any]
        let moves = daemon.log().split(separator: "\n").filter { $0.contains("mqtt: moving from") }
        for move in moves { print("\(broker): \(move.components(separatedBy: "] ").last ?? "")") }
        XCTAssertEqual(failover?["to"] as? String, health["broker"] as? String, "health: \(health)")
        XCTAssertTrue(addresses.contains(failover?["from"] as? String ?? ""), "health: \(health)")
        XCTAssertNotEqual(failover?["from"] as? String, failover?["to"] as? String, "health: \(health)")
        XCTAssertNotNil(failover?["reason"] as? String, "health: \(health)")
        if moves.count == 1 { XCTAssertEqual(failover?["from"] as? String, first.broker, "health: \(health)") }
        XCTAssertEqual(health["mqtt_protocol"] as? String, "3.1.1", "health: \(health)")
        try checkAvailability(broker: broker, daemon: daemon, on: port(others.first { $0 != (health["broker"] as? String) }!))
        return FailoverRun(failover: took)
    }

    /// A newcomer on a node the daemon is not connected to (Home Assistant, say) learns that the
    /// daemon is online: from the retained bridge/state where the broker shares retained messages
    /// across nodes (NATS), and in any case from the heartbeat, which is not retained (RabbitMQ
    /// keeps retained messages per node).
    func checkAvailability(broker: String, daemon: DaemonUnderTest, on port: Int) throws {
        let newcomer = try TestClient(protocolVersion: 311)
        try newcomer.connect(port: port, timeout: 20)
        // NATS refuses a SUBSCRIBE (SUBACK 0x80) while a stream it needs has no leader, as right
        // after its leader was killed: the newcomer tries again, as a real client would.
        let subscribing = ContinuousClock.now
        var refusals = 0
        while true {
            do {
                try newcomer.subscribe(daemon.topics.state, timeout: 20)
                break
            } catch {
                refusals += 1
                if refusals >= 30 { throw error }
                Thread.sleep(forTimeInterval: 0.5)
            }
        }
        if refusals > 0 { print("\(broker): the newcomer's SUBSCRIBE was refused \(refusals) times first") }
        let online = { (m: ReceivedMessage) in json(m)["state"] as? String == "online" }
        let retained = try? newcomer.waitFor(daemon.topics.state, timeout: 1) { $0.retain && online($0) }
        let beat = try newcomer.waitFor(daemon.topics.state, timeout: Double(Self.heartbeat) + 3) { !$0.retain && online($0) }
        print("\(broker): a subscriber on another node got the retained bridge/state: \(retained == nil ? "no" : "yes"); "
            + "the heartbeat (not retained) \(fmt(seconds(between: subscribing, and: beat.receivedAt))) s after it subscribed (mqtt.heartbeat \(Self.heartbeat) s)")
    }

    /// mqtt.heartbeat of the cluster daemons, seconds.
    static let heartbeat = 2

    /// 500 requests while the daemon is connected, 500 more queued by the broker while it is stopped,
    /// then it starts again on the same state: every one processed exactly once.
    /// `afterwards` looks at the restarted daemon before its state directory (and log) goes.
    func queuedWhileAway(broker: String, address: String, username: String?, settings: [String: String],
                         expectedVersion: String, afterwards: (DaemonUnderTest) -> Void = { _ in }) throws {
        let port = Int(address.split(separator: ":").last!)!
        let all = settings.merging(["mqtt.protocol": "auto", "media.bind": "127.0.0.1"]) { $1 }
        let daemon = try DaemonUnderTest(brokerPort: port, settings: all)
        defer { daemon.stopAndRemoveState() }
        let started = ContinuousClock.now
        try daemon.start()
        try daemon.waitUntilConnected(timeout: 30)
        let first = try XCTUnwrap(connection(in: daemon.log()).last)
        print("\(broker): daemon connected with MQTT \(first.version) after \(fmt(seconds(since: started))) s")
        XCTAssertEqual(first.version, expectedVersion, daemon.log())
        if expectedVersion == "3.1.1" { XCTAssertTrue(daemon.log().contains("did not take MQTT 5"), daemon.log()) }

        let watch = try client311(port: port, id: "watch-\(daemon.base)", username: username,
                                  subscribing: [daemon.topics.events, "\(daemon.base)/bridge/response/#"])
        let publisher = try client311(port: port, id: "pub-\(daemon.base)", username: username)
        let requester = BridgeRequester(client: watch, base: daemon.base)
        _ = try requester.request("health", timeout: 30)

        let ids = (0..<1000).map { "\(daemon.base)-\($0)" }
        let begin = ContinuousClock.now
        try publisher.publishSpeakRequests(Array(ids[..<500]), on: daemon.topics.speak, perSecond: 400)
        XCTAssertTrue(waitUntil(timeout: 60) { eventsByID(watch, daemon).count >= 500 }, "the first 500 were processed")
        daemon.process.terminate()
        XCTAssertNotNil(daemon.process.waitForExit(timeout: 15), "the daemon stops on SIGTERM")
        try publisher.publishSpeakRequests(Array(ids[500...]), on: daemon.topics.speak, perSecond: 400)
        let restarted = try daemon.sibling(brokerPort: port, settings: all)
        let back = ContinuousClock.now
        try restarted.start()
        // The log file is the first run's too: wait for a second "connected to" line.
        XCTAssertTrue(waitUntil(timeout: 30, interval: 0.02) { connection(in: restarted.log()).count >= 2 }, restarted.log())
        let again = try XCTUnwrap(connection(in: restarted.log()).last)
        XCTAssertEqual(again.session, "resumed", restarted.log())
        assertEachProcessedExactlyOnce(ids, watch, restarted, broker: broker, since: begin)
        print("\(broker): 500 requests queued while the daemon was stopped processed \(fmt(seconds(since: back))) s after it started again")
        afterwards(restarted)
    }

    // MARK: helpers

    /// A persistent MQTT 3.1.1 client (RabbitMQ 3.10, NATS 2.9 and amqtt speak nothing newer).
    func client311(port: Int, id: String, username: String? = nil, subscribing filters: [String] = []) throws -> TestClient {
        let client = try TestClient(clientID: id, cleanSession: false, protocolVersion: 311, maxInflight: 20)
        if let username { client.setCredentials(username: username, password: nil) }
        try client.connect(port: port, timeout: 20)
        for filter in filters { try client.subscribe(filter, timeout: 20) }
        return client
    }


    /// Every id has its announcement events, each with one payload (a redelivered QoS 1 copy is
    /// byte-identical; a request processed twice would show a second payload: events carry the time).
    func assertEachProcessedExactlyOnce(_ ids: [String], _ watch: TestClient, _ daemon: DaemonUnderTest, broker: String,
                                        since: ContinuousClock.Instant, file: StaticString = #filePath, line: UInt = #line) {
        let complete = waitUntil(timeout: 90, interval: 0.05) { eventsByID(watch, daemon).count >= ids.count }
        let events = eventsByID(watch, daemon)
        let missing = ids.filter { events[$0] == nil }
        let twice = ids.filter { (events[$0]?.count ?? 0) > 1 }
        // When each id's first event came, from the first request: shows a tail of late ones (QoS 1
        // messages a broker redelivers only after its ack timeout).
        var firstSeen: [String: ContinuousClock.Instant] = [:]
        for m in watch.messages(on: daemon.topics.events) {
            guard let id = json(m)["id"] as? String, firstSeen[id] == nil else { continue }
            firstSeen[id] = m.receivedAt
        }
        let times = firstSeen.values.map { seconds(between: since, and: $0) }.sorted()
        let at = { (q: Double) in times.isEmpty ? "-" : fmt(times[min(times.count - 1, Int(Double(times.count) * q))]) }
        print("\(broker): \(ids.count - missing.count) of \(ids.count) requests processed, \(missing.count) lost, \(twice.count) twice; "
            + "done after (s from the first request) 50 %: \(at(0.5)), 90 %: \(at(0.9)), 99 %: \(at(0.99)), all: \(at(1))")
        XCTAssertTrue(complete && missing.isEmpty, "lost \(missing.count): \(missing.prefix(10))\n\(daemon.log().suffix(3000))", file: file, line: line)
        XCTAssertTrue(twice.isEmpty, "processed more than once: \(twice.prefix(10))", file: file, line: line)
        XCTAssertEqual(Set(events.keys).subtracting(ids), [], "events for ids nobody sent", file: file, line: line)
    }

    /// The daemon's "mqtt: connected to HOST:PORT as ID (MQTT V…, session new|resumed)" lines.
    func connection(in log: String) -> [(broker: String, version: String, session: String)] {
        log.split(separator: "\n").compactMap { line in
            guard let range = line.range(of: "mqtt: connected to ") else { return nil }
            let rest = line[range.upperBound...]
            let broker = String(rest.prefix { $0 != " " })
            guard let v = rest.range(of: "(MQTT ") else { return nil }
            let version = String(rest[v.upperBound...].prefix { $0.isNumber || $0 == "." })
            let session = rest.contains("session resumed") ? "resumed" : "new"
            return (broker, version, session)
        }
    }
}

/// Watches a daemon's log from a thread of its own for the moment a new line contains a text, so a failover is timed while the test goes on publishing (the log's timestamps have whole
/// seconds only).
final class LogWatch: Sendable {
    private let seen = Mutex<ContinuousClock.Instant?>(nil)
    private let stopped = Mutex(false)

    /// Only what the daemon appends is read (from the log's size now on): re-reading the whole log
    /// every few milliseconds would take CPU from the brokers on a 2-core machine.
    init(_ daemon: DaemonUnderTest, waitingFor needle: String) {
        let path = daemon.logPath
        let start = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? UInt64) ?? 0
        Thread.detachNewThread { [self] in
            guard let file = FileHandle(forReadingAtPath: path) else { return }
            defer { try? file.close() }
            try? file.seek(toOffset: start)
            var carry = ""
            while !stopped.withLock({ $0 }) {
                let chunk = file.availableData
                if chunk.isEmpty { Thread.sleep(forTimeInterval: 0.005); continue }
                let text = carry + String(decoding: chunk, as: UTF8.self)
                var lines = text.split(separator: "\n", omittingEmptySubsequences: false)
                carry = String(lines.removeLast())
                if lines.contains(where: { $0.contains(needle) }) {
                    let now = ContinuousClock.now
                    seen.withLock { $0 = now }
                    return
                }
            }
        }
    }

    /// When the line appeared, waiting up to `timeout`; nil if it did not.
    func wait(timeout: Double) -> ContinuousClock.Instant? {
        var at: ContinuousClock.Instant?
        waitUntil(timeout: timeout, interval: 0.01) { at = seen.withLock { $0 }; return at != nil }
        stopped.withLock { $0 = true }
        return at
    }

    deinit { stopped.withLock { $0 = true } }
}

func seconds(between a: ContinuousClock.Instant, and b: ContinuousClock.Instant) -> Double {
    let d = b - a
    return Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
}

func fmt(_ value: Double) -> String { String(format: "%.2f", value) }
