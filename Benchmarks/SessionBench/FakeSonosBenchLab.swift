import FakeSonos
import Foundation
import LabKit
#if canImport(Glibc)
import Glibc
#endif

/// The loopback lab the Sonos benches announce in: a 0.3 s WAV served by python's http.server on
/// 127.0.0.1, a broker, and a daemon with the Sonos driver given `household`'s static addresses
/// (discovery and audioClip off, so every announcement goes over UPnP), its speakers online and a
/// client subscribed to the bridge's answers and the speakers' availability.
/// The household stays the caller's: it is started first (the driver needs its addresses) and
/// stopped after the lab.
@MainActor final class FakeSonosBenchLab {
    /// Scratch files of the bench; removed by `stop()`.
    let scratch: TempDirectory
    let clipURL: String
    let daemon: DaemonUnderTest
    let client: TestClient
    var base: String { daemon.base }
    private var teardown: [() -> Void]

    private init(scratch: TempDirectory, clipURL: String, daemon: DaemonUnderTest, client: TestClient, teardown: [() -> Void]) {
        self.scratch = scratch
        self.clipURL = clipURL
        self.daemon = daemon
        self.client = client
        self.teardown = teardown
    }

    /// `name` names the temporary directories; `online` are the speaker ids waited for.
    static func start(household: FakeSonosHousehold, name: String, online: [String]) throws -> FakeSonosBenchLab {
        // What is started so far, undone in reverse by stop() or when a later step throws.
        var undo: [() -> Void] = []
        func undoAll() { for step in undo.reversed() { step() } }
        do {
            let scratch = try TempDirectory(prefix: "sbbench-\(name)")
            undo.append { scratch.remove() }
            let clipDir = scratch.file("clips")
            try FileManager.default.createDirectory(atPath: clipDir, withIntermediateDirectories: false)
            try Shell.runChecked(["sox", "-n", "-r", "22050", "-c", "1", "-b", "16", clipDir + "/beep.wav", "synth", "0.3", "sine", "880", "vol", "0.3"])
            let clipPort = freePort()
            let clipServer = Process()
            clipServer.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            clipServer.arguments = ["python3", "-m", "http.server", "--bind", "127.0.0.1", "--directory", clipDir, "\(clipPort)"]
            clipServer.standardOutput = FileHandle.nullDevice
            clipServer.standardError = FileHandle.nullDevice
            try clipServer.run()
            undo.append { clipServer.terminate(); clipServer.waitUntilExit() }
            guard waitUntil(timeout: 10, interval: 0.05, { tcpConnects(host: "127.0.0.1", port: clipPort) }) else {
                throw LabError("clip server on 127.0.0.1:\(clipPort) not answering")
            }

            let broker = try MosquittoBroker(extraConfig: quietBrokerLog)
            try broker.start()
            undo.append { broker.kill9() }
            let plugins = try TempDirectory(prefix: "sbbench-\(name)-plugins")
            undo.append { plugins.remove() }
            guard chmod(plugins.path, 0o755) == 0 else { throw LabError("chmod \(plugins.path) failed") }
            try PluginBuild.sonosDriver(to: scratch.file("sonos.so"))
            try PluginBuild.install(scratch.file("sonos.so"), as: plugins.file("sonos.so"))
            try JSONSerialization.data(withJSONObject: [
                "discovery": false, "speakers": household.staticAddresses, "probe_interval": 1, "soap_timeout": 2,
                "announce_margin": 1, "audio_clip": false,
            ] as [String: Any]).write(to: URL(fileURLWithPath: plugins.file("sonos.json")))
            let daemon = try benchDaemon(brokerPort: broker.port, settings: [
                "plugins.path": plugins.path, "plugins.watch": "false", "media.bind": "127.0.0.1", "plugins.operation_timeout": "60",
            ])
            undo.append { daemon.stopAndRemoveState() }
            let client = try TestClient(maxInflight: 100)
            undo.append { client.disconnect() }
            try client.connect(port: broker.port)
            let base = daemon.base
            try client.subscribe("\(base)/bridge/response/#")
            try client.subscribe("\(base)/+/availability")
            try daemon.start()
            try daemon.waitUntilConnected()
            for id in online {
                _ = try client.waitFor("\(base)/\(id)/availability", timeout: 20) { $0.text == "online" }
            }
            return FakeSonosBenchLab(scratch: scratch, clipURL: "http://127.0.0.1:\(clipPort)/beep.wav", daemon: daemon,
                                     client: client, teardown: undo)
        } catch {
            undoAll()
            throw error
        }
    }

    /// Stops what `start` started, last first; a second call does nothing.
    func stop() {
        let steps = teardown
        teardown = []
        for step in steps.reversed() { step() }
    }
}
