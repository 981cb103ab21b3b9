import ArgumentParser
import Foundation
import SpeakerbridgeHost

struct Say: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Ask the running daemon to say something.")

    @OptionGroup var options: ConfigOptions

    @Argument(help: "The words.")
    var text: String

    @Option(name: .customLong("speaker"), help: "Speaker name, id or group (repeatable; default: the default speakers).")
    var speakers: [String] = []

    @Option(help: "Volume 0-100 for this announcement.")
    var volume: Int?

    @Option(help: "Voice, e.g. en-us.")
    var voice: String?

    @Flag(help: "Jump the queue.")
    var high = false

    @Option(help: "Announcement id (default: generated). The same id twice is spoken once.")
    var id: String?

    @Flag(help: "Follow the announcement; exit 0 on done, 1 with the reason otherwise.")
    var wait = false

    @Option(help: "Seconds to wait with --wait.")
    var timeout: Double = 60

    func validate() throws {
        if let volume, !(0...100).contains(volume) { throw ValidationError("--volume must be from 0 to 100") }
    }

    func run() async throws {
        let config = try options.loadOrFail()
        let topics = Topics(base: config.baseTopic)
        let announcementID = id ?? "cli-\(UUID().uuidString.prefix(8).lowercased())"
        var request: [String: JSONValue] = ["id": .string(announcementID), "text": .string(text)]
        if !speakers.isEmpty { request["speakers"] = .array(speakers.map { .string($0) }) }
        if let volume { request["volume"] = .number(Double(volume)) }
        if let voice { request["voice"] = .string(voice) }
        if high { request["priority"] = "high" }
        do {
            let client = try CommandClient(config: config)
            defer { client.close() }
            if wait { try client.subscribe(topics.announcementEvents) }
            try client.publish(topics.speak, Array(JSONValue.object(request).serialized().utf8))
            guard wait else {
                // Give libmosquitto a moment to hand the QoS 1 publish to the broker before we disconnect.
                _ = client.next(timeout: 0.3) { _ in nil as Bool? }
                print(announcementID)
                return
            }
            let deadline = Date().addingTimeInterval(timeout)
            while Date() < deadline {
                let event = client.next(timeout: deadline.timeIntervalSinceNow) { m -> JSONValue? in
                    guard let json = try? JSONValue.parse(m.payload), json["id"] == .string(announcementID) else { return nil }
                    return json
                }
                guard let event, let state = event["state"]?.stringValue else { break }
                print("\(announcementID): \(state)" + (event["reason"]?.stringValue.map { " (\($0))" } ?? ""))
                if state == "done" { return }
                if state == "failed" { throw ExitCode(1) }
            }
            throw fail("no final answer for \(announcementID) within \(timeout) s")
        } catch let error as CommandClient.Failure {
            throw fail(error.description)
        }
    }
}
