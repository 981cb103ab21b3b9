import ArgumentParser
import Foundation
import SpeakerbridgeHost

/// `speakerbridge plugin-host`: not for people. The daemon starts one per isolated plugin
/// (`plugins.isolation: process`), with its socket on --fd; see PluginHostMain.
struct PluginHost: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "plugin-host",
        abstract: "Runs one isolated plugin for the daemon (started by the daemon itself).",
        shouldDisplay: false)

    @Argument(parsing: .allUnrecognized, help: "--fd N --name NAME --memory-limit-mb N --open-files-limit N --log-level LEVEL")
    var arguments: [String] = []

    func run() throws {
        // Serves until the daemon says destroy or goes away; returns only when it cannot start.
        throw ExitCode(PluginHostMain.run(arguments: arguments))
    }
}
