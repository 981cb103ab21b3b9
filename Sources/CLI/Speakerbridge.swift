import ArgumentParser
import Foundation
import Logging
import SpeakerbridgeHost

@main
struct Speakerbridge: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "speakerbridge",
        abstract: "MQTT in, speech out: announcements on Sonos and UPnP speakers.",
        subcommands: [Run.self, Say.self, Health.self, DoctorCommand.self, PluginsCommand.self, PluginCommand.self, JournalCommand.self, Soak.self, ConfigCommand.self, Version.self, PluginHost.self],
        defaultSubcommand: Run.self)
}

/// Options every command that needs the configuration shares.
struct ConfigOptions: ParsableArguments {
    @Option(name: .shortAndLong, help: "YAML configuration file (default: $SPEAKERBRIDGE_CONFIG).")
    var config: String?

    @Option(name: .customLong("set"), help: ArgumentHelp("Override one setting, e.g. --set mqtt.keepalive=10 (repeatable).", valueName: "key=value"))
    var settings: [String] = []

    @Option(help: ArgumentHelp("Broker host[:port], [v6]:port or mqtts://host[:port]; repeat it for a list tried in order (mqtt.brokers). Without it (and without mqtt.host or mqtt.brokers) the daemon runs its own broker.", valueName: "broker"))
    var broker: [String] = []

    @Option(help: "State directory (client id, journal, embedded broker files).")
    var stateDir: String?

    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical.")
    var logLevel: String?

    var file: String? { config ?? ProcessInfo.processInfo.environment["SPEAKERBRIDGE_CONFIG"] }

    func flags() throws -> [String: String] {
        var flags: [String: String] = [:]
        for s in settings {
            guard let eq = s.firstIndex(of: "=") else { throw ValidationError("--set takes key=value, got \(s)") }
            flags[String(s[..<eq])] = String(s[s.index(after: eq)...])
        }
        flags.merge(BrokerFlags.flags(broker)) { _, new in new }
        if let stateDir { flags["state_dir"] = stateDir }
        if let logLevel { flags["log_level"] = logLevel }
        return flags
    }
}

extension ConfigOptions {
    /// The merged configuration, or every problem on stderr and exit status 1.
    func loadOrFail() throws -> Configuration {
        do {
            return try ConfigLoader.load(file: file, environment: ProcessInfo.processInfo.environment, flags: try flags())
        } catch let error as ConfigError {
            throw fail("configuration problems:\n\(error.description)")
        }
    }
}

/// `lines`: also keep the recent lines for the `log` request (the daemon's own; other commands
/// pass nothing). Both handlers get the configured level: the `log` request shows exactly the
/// lines the log has, no more.
func makeLogger(_ config: Configuration, lines: LogLines? = nil) -> Logger {
    let level = Logger.Level(rawValue: config.logLevel.rawValue) ?? .info
    LoggingSystem.bootstrap { label in
        var stderr = StreamLogHandler.standardError(label: label)
        stderr.logLevel = level
        guard let lines else { return stderr }
        return MultiplexLogHandler([stderr, LogLinesHandler(label: label, lines: lines, level: level)])
    }
    return Logger(label: "speakerbridge")
}

func fail(_ message: String) -> ExitCode {
    FileHandle.standardError.write(Data(("speakerbridge: " + message + "\n").utf8))
    return ExitCode(1)
}
