import Foundation
import LabKit
import XCTest

/// One daemon under test: its own state directory and base topic, talking to a broker the test owns.
final class DaemonUnderTest {
    let state: TempDirectory
    let base: String
    let process: DaemonProcess
    var topics: (state: String, events: String, speak: String) {
        ("\(base)/bridge/state", "\(base)/bridge/event/announcement", "\(base)/speak")
    }

    /// `settings` are `--set key=value` pairs; fast reconnects unless a test says otherwise.
    init(brokerHost: String = "127.0.0.1", brokerPort: Int, settings: [String: String] = [:], netns: String? = nil,
         stateDirectory: TempDirectory? = nil, base: String? = nil) throws {
        state = try stateDirectory ?? TempDirectory(prefix: "sbstate")
        self.base = base ?? "sbtest\(UInt32.random(in: 0...UInt32.max))"
        var all = ["mqtt.reconnect.min_delay": "0.2", "mqtt.reconnect.max_delay": "2", "base_topic": self.base,
                   "mqtt.keepalive": "10"]
        all.merge(settings) { $1 }
        var args = ["run", "--broker", "\(brokerHost):\(brokerPort)", "--state-dir", state.path + "/state"]
        for (k, v) in all.sorted(by: { $0.key < $1.key }) { args += ["--set", "\(k)=\(v)"] }
        process = DaemonProcess(arguments: args, netns: netns, logPath: state.path + "/daemon.log")
    }

    func start() throws { try process.start() }

    /// Another process of the same installation (same state directory and settings).
    func sibling(brokerPort: Int, settings: [String: String] = [:]) throws -> DaemonUnderTest {
        try DaemonUnderTest(brokerPort: brokerPort, settings: settings, stateDirectory: state, base: base)
    }

    func log() -> String { process.log() }

    func count(_ text: String) -> Int { log().components(separatedBy: text).count - 1 }

    deinit {
        if process.isRunning {
            process.kill9()
            _ = process.waitForExit(timeout: 5)
        }
    }
}

/// A subscriber that records everything the daemon says.
func watcher(port: Int, _ filters: [String], persistent: Bool = false, tls: TestClient.TLS? = nil) throws -> TestClient {
    let client = try TestClient(clientID: persistent ? "watcher-\(UInt32.random(in: 0...UInt32.max))" : nil,
                                cleanSession: !persistent, sessionExpiry: 3600, tls: tls)
    try client.connect(port: port)
    for f in filters { try client.subscribe(f) }
    return client
}

func json(_ m: ReceivedMessage) -> [String: Any] {
    (try? JSONSerialization.jsonObject(with: Data(m.payload))) as? [String: Any] ?? [:]
}

/// A live (not retained) `online` on bridge/state: the daemon has (re)connected.
func waitForOnline(_ client: TestClient, _ daemon: DaemonUnderTest, after: ContinuousClock.Instant = .now - .seconds(3600), timeout: Double = 20) throws {
    _ = try client.waitFor(daemon.topics.state, timeout: timeout) { m in
        !m.retain && m.receivedAt > after && json(m)["state"] as? String == "online"
    }
}

/// Announcement events grouped by id: each id's distinct payloads. Redelivered QoS 1 copies are
/// byte-identical; a request processed twice would show a second payload (events carry the time).
func eventsByID(_ client: TestClient, _ daemon: DaemonUnderTest) -> [String: Set<String>] {
    var result: [String: Set<String>] = [:]
    for m in client.messages(on: daemon.topics.events) {
        guard let id = json(m)["id"] as? String else { continue }
        result[id, default: []].insert(m.text)
    }
    return result
}

/// A broker, a daemon connected to it, and a watcher of `filters` (bridge/state always included).
func runningDaemon(settings: [String: String] = [:], watching filters: [String] = []) throws
    -> (broker: MosquittoBroker, daemon: DaemonUnderTest, watch: TestClient)
{
    let broker = try MosquittoBroker()
    try broker.start()
    let daemon = try DaemonUnderTest(brokerPort: broker.port, settings: settings)
    let watch = try watcher(port: broker.port, [daemon.topics.state] + filters)
    try daemon.start()
    try waitForOnline(watch, daemon)
    return (broker, daemon, watch)
}

func requireRoot(_ what: String) throws {
    if let reason = NetnsLab.unavailableReason {
        print("SKIPPED \(what): \(reason)")
        throw XCTSkip("\(what): \(reason)")
    }
}
