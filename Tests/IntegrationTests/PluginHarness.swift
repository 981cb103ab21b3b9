import Foundation
import LabKit
import XCTest

/// A daemon with a plugin folder, and a client that sends bridge requests and collects answers.
final class PluginDaemon {
    let broker: MosquittoBroker
    let daemon: DaemonUnderTest
    let client: TestClient
    let plugins: TempDirectory
    let scratch: TempDirectory

    init(settings: [String: String] = [:], prepare: (_ pluginDir: String, _ scratch: String) throws -> Void) throws {
        broker = try MosquittoBroker()
        try broker.start()
        plugins = try TempDirectory(prefix: "sbplugins")
        scratch = try TempDirectory(prefix: "sbscratch")
        try prepare(plugins.path, scratch.path)
        var all = ["plugins.path": plugins.path, "plugins.call_timeout": "2", "plugins.watch_interval": "0.2"]
        all.merge(settings) { $1 }
        daemon = try DaemonUnderTest(brokerPort: broker.port, settings: all)
        client = try TestClient(maxInflight: 100)
        try client.connect(port: broker.port)
        try client.subscribe("\(daemon.base)/bridge/#")
        try client.subscribe("\(daemon.base)/+/set/response")
        try daemon.start()
        try waitForOnline(client, daemon)
    }

    var base: String { daemon.base }

    /// Sends a bridge request and waits for the answer with the same transaction.
    @discardableResult
    func request(_ name: String, _ fields: [String: Any] = [:], timeout: Double = 15) throws -> [String: Any] {
        let transaction = "t-\(UUID().uuidString)"
        var body = fields
        body["transaction"] = transaction
        try client.publish(topic: "\(base)/bridge/request/\(name)", payload: try JSONSerialization.data(withJSONObject: body).map { $0 }, qos: 1)
        let answer = try client.waitFor("\(base)/bridge/response/\(name)", timeout: timeout) { json($0)["transaction"] as? String == transaction }
        return json(answer)
    }

    func info() throws -> [String: Any] {
        (try request("plugins"))["data"] as? [String: Any] ?? [:]
    }

    func log(_ file: String) -> [String] {
        ((try? String(contentsOfFile: file, encoding: .utf8)) ?? "").split(separator: "\n").map(String.init)
    }
}

func writeJSON(_ object: Any, to path: String) throws {
    try JSONSerialization.data(withJSONObject: object).write(to: URL(fileURLWithPath: path))
}
