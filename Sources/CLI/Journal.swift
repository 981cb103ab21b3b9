import ArgumentParser
import Foundation
import SpeakerbridgeHost

/// `speakerbridge journal list|retry|drop`: the dead letters of the running daemon (requests
/// quarantined after the daemon died while processing them), through `bridge/request/journal`.
struct JournalCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "journal", abstract: "Inspect, retry or drop quarantined requests (asks the daemon).",
        subcommands: [List.self, Retry.self, Drop.self], defaultSubcommand: List.self)

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the dead letters.")
        @OptionGroup var options: ConfigOptions
        @Option(help: "Seconds to wait for the answer.") var timeout: Double = 5

        func run() async throws {
            let data = try await ask(options, "journal", ["action": "list"], timeout: timeout)
            let letters = data["dead_letters"]?.arrayValue ?? []
            if letters.isEmpty { print("no quarantined requests") }
            for l in letters {
                let seq = Int(l["seq"]?.numberValue ?? 0)
                let id = l["id"]?.stringValue.map { " id \($0)" } ?? ""
                print("\(seq)\(id) on \(l["topic"]?.stringValue ?? "?"): \(Int(l["unclean_exits"]?.numberValue ?? 0)) unclean exits, quarantined \(l["quarantined_at"]?.stringValue ?? "?")")
                print("  \(l["payload"]?.stringValue ?? "") (\(Int(l["payload_bytes"]?.numberValue ?? 0)) bytes)")
            }
        }
    }

    struct Retry: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Put a dead letter back into the journal (attempts counted anew).")
        @OptionGroup var options: ConfigOptions
        @Argument(help: "The dead letter's seq, the request's own id, or all.") var id: String
        @Option(help: "Seconds to wait for the answer.") var timeout: Double = 5

        func run() async throws {
            let data = try await ask(options, "journal", ["action": "retry", "id": .string(id)], timeout: timeout)
            for r in data["retried"]?.arrayValue ?? [] {
                print("retried \(Int(r["seq"]?.numberValue ?? 0)) as \(Int(r["new_seq"]?.numberValue ?? 0))")
            }
        }
    }

    struct Drop: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Forget a dead letter (its id counts as handled).")
        @OptionGroup var options: ConfigOptions
        @Argument(help: "The dead letter's seq, the request's own id, or all.") var id: String
        @Option(help: "Seconds to wait for the answer.") var timeout: Double = 5

        func run() async throws {
            let data = try await ask(options, "journal", ["action": "drop", "id": .string(id)], timeout: timeout)
            for r in data["dropped"]?.arrayValue ?? [] { print("dropped \(Int(r["seq"]?.numberValue ?? 0))") }
        }
    }
}
