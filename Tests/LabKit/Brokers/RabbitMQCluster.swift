import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// A RabbitMQ cluster (Debian's `rabbitmq-server` with the `rabbitmq_mqtt` plugin) of `size` nodes
/// on this machine, run as plain processes: no systemd unit, no /var/lib/rabbitmq, nothing shared
/// with a RabbitMQ that might be installed as a service. Everything listens on 127.0.0.1 only, on
/// ports free at start (MQTT, AMQP, Erlang distribution) and behind a private epmd on a free port,
/// so neither another test run nor a system RabbitMQ can clash with it. Its data lives in a fresh
/// temp dir (a node restarted on the data of a node killed in an earlier run can hang for minutes
/// waiting for Mnesia tables), removed by `stop()`.
///
/// Forming takes 20-26 s on a 2-core machine (each node boots in ~15 s, then two join), so a test
/// class starts one cluster and reuses it.
public final class RabbitMQCluster: Sendable {
    public struct Node: Sendable {
        public let index: Int
        /// The Erlang node name, `sbN@localhost`.
        public let name: String
        public let mqttPort: Int
        let amqpPort: Int
        let distributionPort: Int
        let directory: String
        /// `127.0.0.1:PORT`, as the daemon names a broker.
        public var address: String { "127.0.0.1:\(mqttPort)" }
        var pidFile: String { directory + "/pid" }
        public var logPath: String { directory + "/log/\(name).log" }
        var outputPath: String { directory + "/stdout.log" }
    }

    public let nodes: [Node]
    public let directory: TempDirectory
    /// `quorum` (survives the loss of a node) or `classic` (the default of RabbitMQ 3.10, whose
    /// queue lives on one node only: its messages are unreachable, and those acknowledged meanwhile
    /// lost, while that node is down).
    public let queueType: String
    private let epmdPort: Int
    private let cliPortMin: Int
    /// The start scripts (`rabbitmq-server` runs the VM as its child and waits for it).
    private let scripts = Mutex<[Int: ChildProcess]>([:])

    static let bin = "/usr/lib/rabbitmq/bin"

    /// - subscriptionTTL: ms a disconnected 3.1.1 session's queue is kept (`mqtt.subscription_ttl`,
    ///   the queue's x-expires; RabbitMQ ignores the client's Session Expiry): longer than any outage.
    public init(size: Int = 3, queueType: String = "quorum", subscriptionTTL: Int = 3_600_000) throws {
        guard FileManager.default.isExecutableFile(atPath: Self.bin + "/rabbitmq-server") else {
            throw LabError("RabbitMQ is not installed (\(Self.bin)/rabbitmq-server): run scripts/install-deps.sh brokers")
        }
        directory = try TempDirectory(prefix: "labkit-rabbitmq")
        self.queueType = queueType
        epmdPort = freePort()
        cliPortMin = freePort()
        let base = directory.path
        nodes = (1...size).map { i in
            Node(index: i, name: "sb\(i)@localhost", mqttPort: freePort(), amqpPort: freePort(),
                 distributionPort: freePort(), directory: "\(base)/n\(i)")
        }
        // The cookie the nodes and the CLI share ($HOME/.erlang.cookie, owner-only or Erlang refuses it).
        let cookie = directory.file(".erlang.cookie")
        try "labkit-\(UInt64.random(in: 0...UInt64.max))".write(toFile: cookie, atomically: true, encoding: .utf8)
        chmod(cookie, 0o400)
        for node in nodes { try writeConfig(node, subscriptionTTL: subscriptionTTL) }
    }

    deinit { stop() }

    /// The node with this MQTT port.
    public func node(port: Int) -> Node? { nodes.first { $0.mqttPort == port } }
    public func node(address: String) -> Node? { nodes.first { $0.address == address } }

    /// Starts every node, joins nodes 2… to node 1, and returns once every node accepts an MQTT
    /// 3.1.1 connection and `cluster_status` lists them all. Returns the seconds it took.
    @discardableResult
    public func start(timeout: Double = 180) throws -> Double {
        let begin = ContinuousClock.now
        for node in nodes { try launch(node) }
        for node in nodes { try awaitStartup(node, timeout: timeout) }
        for node in nodes.dropFirst() {
            try ctl(node, ["stop_app"])
            try ctl(node, ["join_cluster", nodes[0].name])
            try ctl(node, ["start_app"])
            try awaitStartup(node, timeout: timeout)
        }
        let running = try runningNodes()
        guard Set(running) == Set(nodes.map(\.name)) else {
            throw LabError("RabbitMQ cluster formed with \(running), not \(nodes.map(\.name))")
        }
        return seconds(since: begin)
    }

    /// Starts a node again (after `kill9`) on its old data; it rejoins the cluster by itself.
    @discardableResult
    public func restart(_ node: Node, timeout: Double = 120) throws -> Double {
        let begin = ContinuousClock.now
        try launch(node)
        try awaitStartup(node, timeout: timeout)
        return seconds(since: begin)
    }

    /// SIGKILL to the node's Erlang VM (by the pid it recorded): its clients see their connections
    /// reset, the cluster sees a node vanish. Returns once the process is gone.
    public func kill9(_ node: Node) {
        RecordedProcess(pidFile: node.pidFile)?.kill9()
        let script = scripts.withLock { $0.removeValue(forKey: node.index) }
        _ = script?.waitForExit(timeout: 10)
        script?.kill9()
    }

    public func isRunning(_ node: Node) -> Bool { RecordedProcess(pidFile: node.pidFile) != nil }

    /// `rabbitmqctl cluster_status`'s running nodes, asked of the first node that is up.
    public func runningNodes() throws -> [String] {
        guard let node = nodes.first(where: isRunning) else { return [] }
        let out = try ctl(node, ["cluster_status", "--formatter", "json"])
        let object = try JSONSerialization.jsonObject(with: Data(out.utf8)) as? [String: Any]
        return object?["running_nodes"] as? [String] ?? []
    }

    /// Stops every node (SIGTERM to the VMs, which shut down cleanly in a few seconds; SIGKILL
    /// after 20 s), then the private epmd, then removes the data. Safe to call more than once.
    public func stop() {
        let vms = nodes.compactMap { RecordedProcess(pidFile: $0.pidFile) }
        for vm in vms { kill(vm.pid, SIGTERM) }
        for vm in vms where !waitUntil(timeout: 20, interval: 0.05, { !vm.isAlive }) { vm.kill9() }
        let all = scripts.withLock { s in defer { s.removeAll() }; return Array(s.values) }
        for script in all { script.terminate(timeout: 5) }
        // epmd was started by the first node as `epmd -daemon`, not as our child: it is stopped by
        // its own command, on its private port.
        _ = try? Shell.run(["ERL_EPMD_PORT=\(epmdPort)", "epmd", "-port", "\(epmdPort)", "-kill"])
        directory.remove()
    }

    /// The tail of a node's log, for failure messages.
    public func logTail(_ node: Node, lines: Int = 30) -> String {
        "--- \(node.name) log:\n" + tail(of: node.logPath, lines: lines) + "\n--- output:\n" + tail(of: node.outputPath, lines: 10)
    }

    // MARK: private

    private func writeConfig(_ node: Node, subscriptionTTL: Int) throws {
        try FileManager.default.createDirectory(atPath: node.directory + "/log", withIntermediateDirectories: true)
        let config = """
            listeners.tcp.default = 127.0.0.1:\(node.amqpPort)
            mqtt.listeners.tcp.1 = 127.0.0.1:\(node.mqttPort)
            mqtt.allow_anonymous = true
            mqtt.vhost = /
            mqtt.exchange = amq.topic
            mqtt.durable_queue_type = \(queueType)
            mqtt.subscription_ttl = \(subscriptionTTL)
            mqtt.prefetch = 10
            loopback_users = none
            log.console = false
            log.file.level = info
            """
        try (config + "\n").write(toFile: node.directory + "/rabbitmq.conf", atomically: true, encoding: .utf8)
        try "[].\n".write(toFile: node.directory + "/advanced.config", atomically: true, encoding: .utf8)
        try "[rabbitmq_mqtt].\n".write(toFile: node.directory + "/enabled_plugins", atomically: true, encoding: .utf8)
    }

    /// What every RabbitMQ program (server and CLI) run for `node` needs in its environment.
    private func environment(_ node: Node) -> [String: String] {
        let d = node.directory
        return [
            "HOME": directory.path,                       // where the Erlang cookie is
            "ERL_EPMD_ADDRESS": "127.0.0.1",              // the epmd the first node starts: loopback only
            "ERL_EPMD_PORT": "\(epmdPort)",
            "RABBITMQ_CONF_ENV_FILE": "/dev/null",        // not /etc/rabbitmq/rabbitmq-env.conf
            "RABBITMQ_NODENAME": node.name,
            "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
            "RABBITMQ_NODE_PORT": "\(node.amqpPort)",
            "RABBITMQ_DIST_PORT": "\(node.distributionPort)",
            "RABBITMQ_MNESIA_BASE": d + "/mnesia",
            "RABBITMQ_LOG_BASE": d + "/log",
            "RABBITMQ_PID_FILE": node.pidFile,
            "RABBITMQ_CONFIG_FILE": d + "/rabbitmq.conf",
            "RABBITMQ_ADVANCED_CONFIG_FILE": d + "/advanced.config",
            "RABBITMQ_ENABLED_PLUGINS_FILE": d + "/enabled_plugins",
            "RABBITMQ_PLUGINS_EXPAND_DIR": d + "/plugins-expand",
            // The node's distribution listener, and the CLI's own short-lived one: loopback only,
            // the CLI's on ports near a free one instead of the fixed default 35672-35682.
            "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS": "-kernel inet_dist_use_interface {127,0,0,1}",
            "RABBITMQ_CTL_ERL_ARGS": "-kernel inet_dist_use_interface {127,0,0,1}",
            "RABBITMQ_CTL_DIST_PORT_MIN": "\(cliPortMin)",
            "RABBITMQ_CTL_DIST_PORT_MAX": "\(cliPortMin + 10)",
        ]
    }

    private func launch(_ node: Node) throws {
        var env = ProcessInfo.processInfo.environment
        env.merge(environment(node)) { $1 }
        let script = try ChildProcess([Self.bin + "/rabbitmq-server"], environment: env, outputPath: node.outputPath)
        scripts.withLock { $0[node.index] = script }
    }

    /// `await_startup` fails at once while the node has not registered with epmd yet, so it is
    /// retried; then a real MQTT connect (the MQTT listener opens after the plugin started).
    private func awaitStartup(_ node: Node, timeout: Double) throws {
        let alive = { self.scripts.withLock { $0[node.index]?.isRunning ?? false } }
        let booted = waitUntil(timeout: timeout, interval: 0.5) {
            guard alive() else { return true }
            return (try? ctl(node, ["--timeout", "60", "await_startup"])) != nil
        }
        guard booted, alive() else {
            throw LabError("RabbitMQ node \(node.name) did not start (\(alive() ? "timeout" : "exited"))\n\(logTail(node))")
        }
        do {
            try MQTTHandshake.waitUntilAccepting(port: node.mqttPort, timeout: 30, alive: alive, what: "RabbitMQ \(node.name)")
        } catch {
            throw LabError("\(error)\n\(logTail(node))")
        }
    }

    /// `rabbitmqctl -q -n NODE args…`, bounded by coreutils' timeout (a CLI talking to a dying
    /// node may otherwise wait long). Throws on a non-zero exit.
    @discardableResult
    public func ctl(_ node: Node, _ args: [String]) throws -> String {
        let env = environment(node).sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }
        return try Shell.runChecked(env + ["timeout", "90", Self.bin + "/rabbitmqctl", "-q", "-n", node.name] + args)
    }
}
