import Foundation
import Logging

/// `speakerbridge plugin check FILE.so`: loads a plugin the way the daemon would, without a broker,
/// and reports what it offers or exactly why the daemon would refuse it.
public enum PluginCheck {
    public struct Report: Sendable {
        public let info: PluginDescriptorInfo
        public let extensions: [String]
        public let commands: [(name: String, signature: String, description: String)]
        public let speakers: [SpeakerInfo]
        public let hostServices: [String]
    }

    /// Publications of a checked plugin go nowhere: there is no broker in an offline check.
    struct DiscardingPublisher: PluginPublisher {
        func publish(_ message: OutboundMessage) {}
    }

    /// Clips of a checked plugin are accepted and forgotten.
    struct DiscardingMedia: PluginMediaStore {
        func put(_ bytes: [UInt8], mime: String, ttl: Double) -> String? { "http://127.0.0.1:9/media/checked.wav" }
    }

    public static func run(path: String, configJSON: String?, callTimeout: Double = 5, logger: Logger) async throws(PluginRejection) -> Report {
        let scratch = NSTemporaryDirectory() + "speakerbridge-check-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        try? FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        // The same settings check as the daemon's, before the library is mapped.
        let settings: String
        if let configJSON { settings = try PluginSettingsFile.validate(Array(configJSON.utf8), path: "given with --config-json") }
        else { settings = try PluginSettingsFile.load(for: path) }
        let library = try PluginLibrary(source: path, loadAs: scratch + "/check.so")
        let generation = try await PluginGeneration.start(
            library: library, number: 1, configJSON: settings,
            callTimeout: callTimeout, logger: logger, topics: Topics(base: "speakerbridge"),
            publisher: DiscardingPublisher(), operations: OperationTable(), media: DiscardingMedia(),
            // No traffic from an offline check: UDP sockets bind and send nothing; no HTTP server, no routes.
            network: PluginNetworkServices(offline: true))
        let report = Report(
            info: generation.info, extensions: generation.extensions,
            commands: generation.commands.values.sorted { $0.name < $1.name }.map { ($0.name, $0.signatureText, $0.description) },
            speakers: await generation.speakers(), hostServices: HostTables.offered)
        await generation.shutdown()
        return report
    }
}
