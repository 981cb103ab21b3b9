import Foundation

/// A daemon with a plugin folder, and a client that sends bridge requests and collects answers.
public final class PluginDaemon: Sendable {
    public let broker: MosquittoBroker
    public let daemon: DaemonUnderTest
    public let client: TestClient
    public let plugins: TempDirectory
    public let scratch: TempDirectory
    private let requester: BridgeRequester

    /// `prepare` fills the plugin folder (and a scratch folder for the plugins' files) before the
    /// daemon starts; short plugin call timeouts and a fast watcher unless `settings` say otherwise.
    public init(settings: [String: String] = [:], prepare: (_ pluginDir: String, _ scratch: String) throws -> Void) throws {
        broker = try MosquittoBroker()
        try broker.start()
        plugins = try TempDirectory(prefix: "sbplugins")
        scratch = try TempDirectory(prefix: "sbscratch")
        try prepare(plugins.path, scratch.path)
        var all = ["plugins.path": plugins.path, "plugins.call_timeout": "2", "plugins.watch_interval": "0.2"]
        all.merge(settings) { $1 }
        daemon = try DaemonUnderTest(brokerPort: broker.port, settings: all)
        client = try TestClient(maxInflight: 100)
        requester = BridgeRequester(client: client, base: daemon.base)
        try client.connect(port: broker.port)
        try client.subscribe("\(daemon.base)/bridge/#")
        try client.subscribe("\(daemon.base)/+/set/response")
        try daemon.start()
        try waitForOnline(client, daemon)
    }

    public var base: String { daemon.base }

    /// Sends a bridge request and waits for the answer with the same transaction.
    @discardableResult
    public func request(_ name: String, _ fields: [String: Any] = [:], timeout: Double = 15) throws -> [String: Any] {
        try requester.request(name, fields, timeout: timeout).json
    }

    /// The `plugins` request's data: loaded plugins, their speakers and commands, refusals.
    public func info() throws -> [String: Any] {
        (try request("plugins"))["data"] as? [String: Any] ?? [:]
    }

    /// The lines of a text file a plugin writes (empty when it does not exist yet).
    public func log(_ file: String) -> [String] {
        ((try? String(contentsOfFile: file, encoding: .utf8)) ?? "").split(separator: "\n").map(String.init)
    }
}
