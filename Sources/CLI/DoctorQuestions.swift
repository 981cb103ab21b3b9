import Foundation
import SpeakerbridgeHost

/// What the doctor asks the running daemon over MQTT: the retained bridge state, then `health`, and
/// only if that is answered `info`, `plugins` and `voices`. Never fails: silence is an answer too.
enum DoctorQuestions {
    static func ask(_ config: Configuration, timeout: Double) -> DaemonAnswers {
        let topics = Topics(base: config.baseTopic)
        var answers = DaemonAnswers()
        do {
            let client = try CommandClient(config: config, timeout: timeout)
            defer { client.close() }
            try client.subscribe(topics.bridgeState)
            try client.subscribe(topics.response("#"))
            // A retained message follows the SUBACK at once, if the broker has one.
            answers.state = client.next(timeout: 0.5) { m in
                m.topic == topics.bridgeState ? try? JSONValue.parse(m.payload) : nil
            }
            answers.health = try question(client, topics, "health", timeout: timeout)
            guard answers.isAnswering else { return answers }
            answers.info = try question(client, topics, "info", timeout: timeout)
            answers.plugins = try question(client, topics, "plugins", timeout: timeout)
            // The TTS engine may be busy synthesising; give it longer than a quick request.
            answers.voices = try question(client, topics, "voices", timeout: timeout * 3)
        } catch {
            answers.notAsked = error.description
        }
        return answers
    }

    private static func question(_ client: CommandClient, _ topics: Topics, _ name: String, timeout: Double) throws(CommandClient.Failure) -> DaemonAnswers.Answer {
        let transaction = "doctor-\(UInt32.random(in: 0...UInt32.max))"
        try client.publish(topics.request(name), Array(JSONValue.object(["transaction": .string(transaction)]).serialized().utf8))
        let answer = client.next(timeout: timeout) { m -> JSONValue? in
            guard m.topic == topics.response(name), let json = try? JSONValue.parse(m.payload),
                  json["transaction"] == .string(transaction) else { return nil }
            return json
        }
        guard let answer else { return .none }
        guard answer["status"] == "ok" else { return .error(answer["error"]?.stringValue ?? "error") }
        return .data(answer["data"] ?? .null)
    }
}
