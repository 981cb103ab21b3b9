/// The topics and payloads that reach one speaker. A speaker id that can be a topic level uses
/// the contract's `<base>/<id>/speak` and `<base>/<id>/set`; any other id (one with `/`, `+`, `#`,
/// or the id `bridge`) goes by `<base>/speak` with `speakers` and by the plugin command request
/// `bridge/request/plugin/<driver>/<command>` with `speaker`, which carry the id inside the JSON.
struct SpeakerRoutes {
    let speaker: DiscoveredSpeaker
    let topics: Topics

    var routable: Bool { DiscoveryNames.isRoutableLevel(speaker.id) }

    /// Where the driver publishes; nil when the id cannot be inside a topic at all.
    var availability: String? { DiscoveryNames.isPublishable(speaker.id) ? "\(topics.base)/\(speaker.id)/availability" : nil }
    var state: String? { DiscoveryNames.isPublishable(speaker.id) ? "\(topics.base)/\(speaker.id)/state" : nil }

    var announce: [String: JSONValue] {
        if routable {
            return ["command_topic": .string(topics.speak(speaker.id)), "command_template": .string(BridgeEntities.speakTemplate)]
        }
        return ["command_topic": .string(topics.speak),
                "command_template": .string("{\"text\": {{ value | to_json }}, \"speakers\": [\(DiscoveryNames.templateLiteral(speaker.id))]}")]
    }

    /// A command the driver takes for this speaker with only `speaker` and `given` filled in.
    func callable(_ command: DiscoveredSpeaker.Command, with given: [String]) -> Bool {
        let names = command.signature.parameters.map(\.name)
        guard names.contains("speaker") else { return false }
        return command.signature.parameters.allSatisfy { $0.optional || $0.name == "speaker" || given.contains($0.name) }
    }

    /// A command whose arguments come from Home Assistant's value through template expressions.
    func command(_ command: DiscoveredSpeaker.Command, template arguments: [(String, String)]) -> [String: JSONValue] {
        var parts = routable ? ["\"command\": \(DiscoveryNames.templateLiteral(command.name))"]
            : ["\"speaker\": \(DiscoveryNames.templateLiteral(speaker.id))"]
        for (name, expression) in arguments { parts.append("\(DiscoveryNames.templateLiteral(name)): \(expression)") }
        return ["command_topic": .string(topic(command)), "command_template": .string("{" + parts.joined(separator: ", ") + "}"), "qos": 1]
    }

    func press(_ command: DiscoveredSpeaker.Command) -> [String: JSONValue] {
        ["command_topic": .string(topic(command)), "payload_press": .string(payload(command, [:])), "qos": 1]
    }

    /// A switch: one command topic, two payloads; nil when the two commands would need two topics.
    func toggle(on: (DiscoveredSpeaker.Command, [String: JSONValue]), off: (DiscoveredSpeaker.Command, [String: JSONValue]))
        -> [String: JSONValue]?
    {
        guard topic(on.0) == topic(off.0) else { return nil }
        return ["command_topic": .string(topic(on.0)), "payload_on": .string(payload(on.0, on.1)),
                "payload_off": .string(payload(off.0, off.1)), "qos": 1]
    }

    private func topic(_ command: DiscoveredSpeaker.Command) -> String {
        routable ? "\(topics.base)/\(speaker.id)/set" : topics.request("plugin/\(speaker.driver)/\(command.name)")
    }

    private func payload(_ command: DiscoveredSpeaker.Command, _ arguments: [String: JSONValue]) -> String {
        var o = arguments
        if routable { o["command"] = .string(command.name) } else { o["speaker"] = .string(speaker.id) }
        return JSONValue.object(o).serialized()
    }
}
