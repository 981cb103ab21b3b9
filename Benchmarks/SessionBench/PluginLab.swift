import Foundation
import LabKit
#if canImport(Glibc)
import Glibc
#endif

// The lab of the plugin benchmarks (swap, reload-rss): a daemon with the log speaker, all traffic on
// 127.0.0.1.

let logSpeakerID = "org.speakerbridge.example.log-speaker"

/// A broker, a plugin folder with the log-speaker built by `cc` (as a third party would), a daemon
/// loading it (`plugins.watch=false`: only explicit reload requests swap builds), a streaming client
/// and a control client.
final class PluginLab {
    let broker: MosquittoBroker
    let plugins: TempDirectory
    let scratch: TempDirectory
    let daemon: DaemonUnderTest
    /// Sends the echo stream and receives its answers.
    let client: TestClient
    /// Sends reload/health requests and receives their answers (kept apart so polling it is cheap).
    let control: BridgeRequester
    var base: String { daemon.base }
    var echoTopic: String { "\(base)/bridge/request/plugin/\(logSpeakerID)/echo" }
    var echoResponseTopic: String { "\(base)/bridge/response/plugin/\(logSpeakerID)/echo" }

    /// `settings` are laid over the lab's daemon settings (the isolation bench passes `plugins.isolation`).
    init(settings: [String: String] = [:]) throws {
        broker = try MosquittoBroker(extraConfig: quietBrokerLog)
        try broker.start()
        plugins = try TempDirectory(prefix: "sbbench-plugins")
        scratch = try TempDirectory(prefix: "sbbench-pscratch")
        // The daemon refuses a plugin folder writable by group/others; owned by us (root), 0755.
        guard chmod(plugins.path, 0o755) == 0 else { throw LabError("chmod \(plugins.path) failed") }
        let build = scratch.file("log-speaker.so")
        try PluginBuild.logSpeaker(to: build)
        try PluginBuild.install(build, as: plugins.file("log-speaker.so"))
        try writeJSON(["log": scratch.file("log.txt")], to: plugins.file("log-speaker.json"))
        daemon = try benchDaemon(brokerPort: broker.port, settings: ["plugins.path": plugins.path, "plugins.watch": "false"].merging(settings) { $1 })
        client = try TestClient(maxInflight: 100)
        try client.connect(port: broker.port)
        let controlClient = try TestClient()
        try controlClient.connect(port: broker.port)
        control = BridgeRequester(client: controlClient, base: daemon.base, transactionPrefix: "ctl")
        try client.subscribe(echoResponseTopic)
        try controlClient.subscribe("\(daemon.base)/bridge/response/#")
        try daemon.start()
        try daemon.waitUntilConnected()
        // The router holds requests until the plugins are loaded: this answer means they are. "connected"
        // is logged before the daemon's SUBSCRIBE, so a request sent that early can reach nobody: ask
        // again every 2 s.
        var answered: BridgeExchange?
        for attempt in 1...10 where answered == nil {
            do { answered = try request("plugins", timeout: 2) } catch where attempt < 10 {}
        }
        guard let info = answered else { throw LabError("no answer to plugins\n\(logExcerpt(daemon))") }
        let loaded = ((info.json["data"] as? [String: Any])?["loaded"] as? [[String: Any]]) ?? []
        guard loaded.contains(where: { $0["id"] as? String == logSpeakerID }) else {
            throw LabError("log-speaker not loaded: \(info.json)\n\(logExcerpt(daemon))")
        }
    }

    func stop() {
        client.disconnect()
        control.client.disconnect()
        daemon.stopAndRemoveState()
        broker.kill9()
        plugins.remove()
        scratch.remove()
    }

    /// Sends a bridge request and waits for its answer.
    @discardableResult
    func request(_ name: String, _ fields: [String: Any] = [:], timeout: Double = 20) throws -> BridgeExchange {
        do {
            return try control.request(name, fields, timeout: timeout, interval: 0.001)
        } catch {
            throw LabError("\(error)\n\(logExcerpt(daemon))")
        }
    }

    /// One reload of the log-speaker through the MQTT request; throws unless it says "reloaded".
    func reload(timeout: Double = 20) throws -> (sentAt: ContinuousClock.Instant, answeredAt: ContinuousClock.Instant, generation: Int) {
        let r = try request("plugins/reload", ["id": logSpeakerID], timeout: timeout)
        return (r.sentAt, r.answeredAt, try PluginLab.checkReload(r.json))
    }

    static func checkReload(_ json: [String: Any]) throws -> Int {
        guard json["status"] as? String == "ok", let first = (json["data"] as? [[String: Any]])?.first,
              first["outcome"] as? String == "reloaded", let g = first["generation"] as? Int else {
            throw LabError("reload failed: \(json)")
        }
        return g
    }
}
