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

/// Sends a bridge request and returns the answer's `data`, or fails with its error.
func ask(_ options: ConfigOptions, _ name: String, _ fields: [String: JSONValue], timeout: Double) async throws -> JSONValue {
    let config = try options.loadOrFail()
    let topics = Topics(base: config.baseTopic)
    let transaction = "cli-\(UInt32.random(in: 0...UInt32.max))"
    var request = fields
    request["transaction"] = .string(transaction)
    do {
        let client = try CommandClient(config: config, timeout: timeout)
        defer { client.close() }
        try client.subscribe(topics.response(name))
        try client.publish(topics.request(name), Array(JSONValue.object(request).serialized().utf8))
        guard let answer = client.next(timeout: timeout, { m -> JSONValue? in
            guard let json = try? JSONValue.parse(m.payload), json["transaction"] == .string(transaction) else { return nil }
            return json
        }) else { throw fail("no answer from the daemon within \(timeout) s (is it running, with base topic \(config.baseTopic)?)") }
        guard answer["status"] == "ok" else { throw fail(answer["error"]?.stringValue ?? "error") }
        return answer["data"] ?? .null
    } catch let error as CommandClient.Failure {
        throw fail(error.description)
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
