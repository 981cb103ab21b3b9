import ArgumentParser
import Foundation
import Logging
import SpeakerbridgeHost

struct PluginsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "plugins", abstract: "Ask the running daemon about its plugins.", subcommands: [List.self, Reload.self],
        defaultSubcommand: List.self)

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List loaded and refused plugins (asks the daemon over MQTT).")
        @OptionGroup var options: ConfigOptions
        @Option(help: "Seconds to wait for the answer.") var timeout: Double = 5

        func run() async throws {
            let data = try await ask(options, "plugins", [:], timeout: timeout)
            for p in data["loaded"]?.arrayValue ?? [] {
                print("\(p["id"]?.stringValue ?? "?") \(p["version"]?.stringValue ?? "") generation \(Int(p["generation"]?.numberValue ?? 0))  \(p["file"]?.stringValue ?? "")")
                // How it is doing: running, hung, restarting, crashed or down, with the why.
                var state = "  state: \(p["state"]?.stringValue ?? "running")"
                if let restarts = p["restarts"]?.numberValue, restarts > 0 { state += ", \(Int(restarts)) restarts" }
                if let exit = p["last_exit"]?.stringValue { state += ", last exit: \(exit)" }
                print(state)
                // Where its code runs: inline, or its own plugin host process.
                if let isolation = p["isolation"]?.stringValue {
                    print("  isolation: \(isolation)" + (p["pid"]?.numberValue.map { ", pid \(Int($0))" } ?? ""))
                }
                if let problem = p["problem"]?.stringValue { print("  problem: \(problem)") }
                if let speakers = p["speakers"]?.arrayValue, !speakers.isEmpty {
                    print("  speakers: " + speakers.compactMap { $0["name"]?.stringValue }.joined(separator: ", "))
                }
                if let commands = p["commands"]?.arrayValue {
                    for c in commands { print("  command \(c["name"]?.stringValue ?? "") (\(c["signature"]?.stringValue ?? ""))") }
                }
            }
            for r in data["rejected"]?.arrayValue ?? [] {
                print("REFUSED \(r["file"]?.stringValue ?? ""): \(r["error"]?.stringValue ?? "")")
            }
        }
    }

    struct Reload: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Hot-reload one plugin (or all) in the running daemon.")
        @OptionGroup var options: ConfigOptions
        @Argument(help: "Plugin id; all plugins when omitted.") var id: String?
        @Option(help: "Seconds to wait for the answer.") var timeout: Double = 30

        func run() async throws {
            let data = try await ask(options, "plugins/reload", id.map { ["id": .string($0)] } ?? [:], timeout: timeout)
            if case .array(let results) = data {
                for r in results {
                    print("\(r["id"]?.stringValue ?? r["file"]?.stringValue ?? "?"): \(r["outcome"]?.stringValue ?? "")"
                          + (r["generation"]?.numberValue.map { " (generation \(Int($0)))" } ?? ""))
                }
            }
        }
    }
}

struct PluginCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "plugin", abstract: "Work with a plugin file.", subcommands: [Check.self])

    struct Check: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Load FILE.so as the daemon would (offline) and print what it offers, or exactly why it would be refused.")
        @Argument(help: "The plugin shared object.") var file: String
        @Option(help: "The plugin's configuration as JSON (default: FILE.json beside it, or {}).") var configJSON: String?

        func run() async throws {
            var logger = Logger(label: "speakerbridge")
            logger.logLevel = .warning
            do {
                let r = try await PluginCheck.run(path: file, configJSON: configJSON, logger: logger)
                print("plugin \(r.info.id) \(r.info.version) (ABI \(r.info.abiMajor).\(r.info.abiMinor))")
                print("  name: \(r.info.name)")
                print("  vendor: \(r.info.vendor)")
                print("  description: \(r.info.description)")
                print("  extensions: \(r.extensions.joined(separator: ", "))")
                for c in r.commands { print("  command \(c.name)(\(c.signature))" + (c.description.isEmpty ? "" : ": \(c.description)")) }
                for s in r.speakers { print("  speaker \(s.name) [\(s.id)] \(s.model)") }
                print("OK: the daemon would load it")
            } catch {
                throw fail("REFUSED: \(error)")
            }
        }
    }
}
