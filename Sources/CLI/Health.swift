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
        let config = try options.loadOrFail()
        let topics = Topics(base: config.baseTopic)
        let transaction = "health-\(UInt32.random(in: 0...UInt32.max))"
        do {
            let client = try CommandClient(config: config, timeout: timeout)
            defer { client.close() }
            try client.subscribe(topics.response("health"))
            try client.publish(topics.request("health"), Array(#"{"transaction":"\#(transaction)"}"#.utf8))
            let answer = client.next(timeout: timeout) { m -> JSONValue? in
                guard let json = try? JSONValue.parse(m.payload), json["transaction"] == .string(transaction) else { return nil }
                return json
            }
            guard let answer else { throw fail("no answer from the daemon within \(timeout) s (is it running, with base topic \(config.baseTopic)?)") }
            if !quiet { print(answer["data"]?.serialized() ?? answer.serialized()) }
            guard answer["data"]?["healthy"] == .bool(true) else {
                throw fail("unhealthy: " + (answer["data"]?["warning"]?.stringValue ?? answer["error"]?.stringValue ?? "not connected to the broker"))
            }
            if quiet { print("healthy") }
        } catch let error as CommandClient.Failure {
            throw fail(error.description)
        }
    }
}
