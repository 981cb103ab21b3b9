import ArgumentParser
import Foundation
import SpeakerbridgeHost

struct Health: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Ask the running daemon how it is; exit 0 when healthy, 1 otherwise (for HEALTHCHECK).")

    @OptionGroup var options: ConfigOptions

    @Option(help: "Seconds to wait for the answer.")
    var timeout: Double = 5

    @Flag(help: "Print only the verdict, not the JSON.")
    var quiet = false

    func run() async throws {
        // `ask` fails on an error answer; health reports an unhealthy daemon through `data`.
        let data = try await ask(options, "health", [:], timeout: timeout)
        if !quiet { print(data.serialized()) }
        guard data["healthy"] == .bool(true) else {
            let problems = (data["problems"]?.arrayValue ?? []).compactMap(\.stringValue)
            let verdict = data["status"]?.stringValue ?? "unhealthy"
            throw fail("\(verdict): " + (problems.isEmpty ? data["warning"]?.stringValue ?? "not connected to the broker" : problems.joined(separator: "; ")))
        }
        if quiet { print("healthy") }
    }
}
