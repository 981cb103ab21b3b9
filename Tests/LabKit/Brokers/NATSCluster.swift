import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// A NATS cluster (Debian's `nats-server`) of `size` nodes with JetStream and the MQTT gateway, as
/// plain processes on 127.0.0.1 (client, route, monitoring and MQTT ports free at start), data in a
/// fresh temp dir removed by `stop()`. `stream_replicas: 3` keeps the MQTT sessions, retained
/// messages and queued QoS 1 messages on every node, so a session resumes on any surviving node.
///
/// One trap, measured: NATS looks up an MQTT session in the `$MQTT_sess` stream at every CONNECT,
/// so while that stream has no leader (~5-10 s after its leader was killed) each CONNECT is held
/// 4 s and closed without a CONNACK; likewise a retained publish while `$MQTT_rmsgs` has no leader
/// (the connection is closed after 4 s). `streamLeaders()` says which node leads which stream.
public final class NATSCluster: Sendable {
    public struct Node: Sendable {
        public let index: Int
        /// The `server_name`, `nN`: what `/jsz` names stream leaders by.
        public let name: String
        public let mqttPort: Int
        public let monitorPort: Int
        let clientPort: Int
        let routePort: Int
        let directory: String
        public var address: String { "127.0.0.1:\(mqttPort)" }
        var configPath: String { directory + "/nats.conf" }
        public var logPath: String { directory + "/nats.log" }
    }

    public let nodes: [Node]
    public let directory: TempDirectory
    private let children = Mutex<[Int: ChildProcess]>([:])

    /// Debian installs it in /usr/sbin, which a user's PATH may lack.
    static let executable = ["/usr/sbin/nats-server", "/usr/bin/nats-server"]
        .first { FileManager.default.isExecutableFile(atPath: $0) } ?? "nats-server"

    /// How long NATS waits for the PUBACK of a QoS 1 message it delivered before sending it again
    /// (`mqtt.ack_wait`). Messages in flight to a client whose node died are redelivered only then,
    /// so this bounds how late they arrive after a failover.
    public let ackWait: Int

    /// - ackWait: seconds; 30 is NATS's default.
    public init(size: Int = 3, ackWait: Int = 30) throws {
        self.ackWait = ackWait
        guard (try? Shell.run([Self.executable, "--version"]))?.status == 0 else {
            throw LabError("nats-server is not installed: run scripts/install-deps.sh brokers")
        }
        directory = try TempDirectory(prefix: "labkit-nats")
        let base = directory.path
        nodes = (1...size).map { i in
            Node(index: i, name: "n\(i)", mqttPort: freePort(), monitorPort: freePort(), clientPort: freePort(),
                 routePort: freePort(), directory: "\(base)/n\(i)")
        }
        for node in nodes { try writeConfig(node) }
    }

    deinit { stop() }

    public func node(address: String) -> Node? { nodes.first { $0.address == address } }
    public func node(named name: String) -> Node? { nodes.first { $0.name == name } }

    /// Starts every node; returns once each says healthy (`/healthz`: JetStream is up and the meta
    /// group has a leader) and has answered one MQTT 3.1.1 CONNECT. That first CONNECT makes the MQTT
    /// streams (~2 s), which would otherwise be counted in the first measurement. Returns seconds.
    @discardableResult
    public func start(timeout: Double = 60) throws -> Double {
        let begin = ContinuousClock.now
        for node in nodes { try launch(node) }
        for node in nodes {
            let healthy = waitUntil(timeout: timeout, interval: 0.1) {
                !isRunning(node) || (try? AdminEndpoint(port: node.monitorPort).get("/healthz", timeout: 2))?.status == 200
            }
            guard healthy, isRunning(node) else {
                throw LabError("NATS \(node.name) not healthy within \(timeout) s\n\(tail(of: node.logPath))")
            }
        }
        for node in nodes { try awaitMQTT(node, timeout: timeout) }
        return seconds(since: begin)
    }

    /// Starts a killed node again on its data. Its MQTT port opens at once, but `/healthz` may say
    /// 503 for > 30 s while its consumers catch up, so readiness is a real MQTT CONNECT.
    @discardableResult
    public func restart(_ node: Node, timeout: Double = 60) throws -> Double {
        let begin = ContinuousClock.now
        try launch(node)
        try awaitMQTT(node, timeout: timeout)
        return seconds(since: begin)
    }

    public func isRunning(_ node: Node) -> Bool { children.withLock { $0[node.index]?.isRunning ?? false } }

    /// SIGKILL to the node's process (our child, by its pid); returns once it is gone.
    public func kill9(_ node: Node) {
        let child = children.withLock { $0.removeValue(forKey: node.index) }
        child?.kill9()
    }

    /// The server name of the node leading JetStream stream `stream` (e.g. `$MQTT_sess`), asked of
    /// `/jsz?accounts=true&streams=true` on a running node; nil if no node knows one right now.
    public func streamLeader(_ stream: String) -> String? { streamLeaders()[stream] }

    /// The leader of every JetStream stream (name → server name) that a running node knows of.
    public func streamLeaders() -> [String: String] {
        var leaders: [String: String] = [:]
        for node in nodes where isRunning(node) {
            guard let body = jsz(node),
                  let object = try? JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any],
                  let accounts = object["account_details"] as? [[String: Any]] else { continue }
            for account in accounts {
                for detail in account["stream_detail"] as? [[String: Any]] ?? [] {
                    if let name = detail["name"] as? String,
                       let leader = (detail["cluster"] as? [String: Any])?["leader"] as? String, !leader.isEmpty {
                        leaders[name] = leader
                    }
                }
            }
            if !leaders.isEmpty { return leaders }
        }
        return leaders
    }

    /// `/jsz?accounts=true&streams=true` of the first running node, for failure messages.
    public func jetStreamInfo() -> String {
        guard let node = nodes.first(where: isRunning) else { return "(no node running)" }
        return jsz(node) ?? "(no answer)"
    }

    /// The monitoring port's JetStream report (accounts and their streams, with each stream's
    /// cluster leader); nil unless it answered 200.
    private func jsz(_ node: Node) -> String? {
        guard let answer = try? AdminEndpoint(port: node.monitorPort).get("/jsz?accounts=true&streams=true", timeout: 3),
              answer.status == 200 else { return nil }
        return answer.headers["transfer-encoding"] == "chunked" ? Self.dechunk(answer.body) : answer.body
    }

    /// The body of a chunked HTTP/1.1 answer (the monitoring server chunks large reports).
    static func dechunk(_ raw: String) -> String {
        var rest = Substring(raw)
        var out = ""
        while let lineEnd = rest.range(of: "\r\n"),
              let size = Int(rest[..<lineEnd.lowerBound].split(separator: ";").first ?? "", radix: 16), size > 0 {
            let start = lineEnd.upperBound
            guard let end = rest.utf8.index(start, offsetBy: size, limitedBy: rest.utf8.endIndex) else { break }
            out += rest[start..<end]
            rest = rest[end...].dropFirst(2)
        }
        return out
    }

    /// SIGTERM to every node (SIGKILL after 10 s), then removes the data. Safe to call more than once.
    public func stop() {
        let all = children.withLock { c in defer { c.removeAll() }; return Array(c.values) }
        for child in all { child.send(SIGTERM) }
        for child in all { child.terminate(timeout: 10) }
        directory.remove()
    }

    // MARK: private

    private func writeConfig(_ node: Node) throws {
        try FileManager.default.createDirectory(atPath: node.directory + "/js", withIntermediateDirectories: true)
        let routes = nodes.filter { $0.index != node.index }.map { "nats-route://127.0.0.1:\($0.routePort)" }
        let config = """
            server_name: \(node.name)
            listen: 127.0.0.1:\(node.clientPort)
            http: 127.0.0.1:\(node.monitorPort)
            jetstream {
              store_dir: "\(node.directory)/js"
              max_memory_store: 64MB
              max_file_store: 1GB
            }
            cluster {
              name: labkit
              listen: 127.0.0.1:\(node.routePort)
              routes: [ \(routes.joined(separator: ", ")) ]
            }
            mqtt {
              listen: 127.0.0.1:\(node.mqttPort)
              # replicas of the MQTT streams (sessions, retained, QoS 1 messages): every node
              stream_replicas: \(nodes.count)
              # redelivery of an unacknowledged QoS 1 message
              ack_wait: "\(ackWait)s"
            }
            """
        try (config + "\n").write(toFile: node.configPath, atomically: true, encoding: .utf8)
    }

    private func launch(_ node: Node) throws {
        let child = try ChildProcess([Self.executable, "-c", node.configPath], outputPath: node.logPath)
        children.withLock { $0[node.index] = child }
    }

    private func awaitMQTT(_ node: Node, timeout: Double) throws {
        do {
            try MQTTHandshake.waitUntilAccepting(port: node.mqttPort, timeout: timeout, alive: { self.isRunning(node) },
                                                 what: "NATS \(node.name)")
        } catch {
            throw LabError("\(error)\n\(tail(of: node.logPath))")
        }
    }
}
