/// One speaker's device and entities: announce always; volume, mute, transport buttons, play mode
/// and the transport sensor only where the speaker's driver declares the typed commands behind
/// them, so Home Assistant never shows a control that would be answered "unknown command".
public enum SpeakerEntities {
    /// The Sonos driver's play modes (its `playmode` command takes them in lower case).
    public static let playModes: [JSONValue] = ["normal", "repeat_all", "repeat_one", "shuffle_norepeat", "shuffle", "shuffle_repeat_one"]
    static let transportButtons = ["play", "pause", "stop", "next", "previous"]
    static let transportCommands = ["play", "pause", "stop", "toggle", "next", "previous"]

    public static func configs(_ s: DiscoveredSpeaker, _ c: DiscoveryContext) -> [DiscoveryConfig] {
        let token = DiscoveryNames.token(s.id)
        let slug = DiscoveryNames.slug(s.id)
        let routes = SpeakerRoutes(speaker: s, topics: c.topics)
        let name = s.speaker.name.isEmpty ? s.id : s.speaker.name
        var device: [String: JSONValue] = [
            "identifiers": [.string("\(c.bridgeIdentifier)_\(token)")], "name": .string(name),
            "model": .string(s.speaker.model.isEmpty ? "speaker" : s.speaker.model),
            "manufacturer": .string(s.manufacturer.isEmpty ? s.driver : s.manufacturer),
            "via_device": .string(c.bridgeIdentifier),
        ]
        if !s.driverVersion.isEmpty { device["sw_version"] = .string(s.driverVersion) }
        var availability = [c.bridgeAvailability]
        if let topic = routes.availability { availability.append(["topic": .string(topic)]) }

        func make(_ component: String, _ key: String, name: String, _ fields: [String: JSONValue]) -> DiscoveryConfig {
            DiscoveryConfig(component: component, object: "speaker_\(token)_\(key)",
                            payload: c.entity(unique: "\(c.node)_\(token)_\(key)", objectID: "\(slug)_\(key)",
                                              name: .string(name), device: .object(device), availability: availability,
                                              fields: fields))
        }

        var out = [make("notify", "announce", name: "Announce", routes.announce.merging(["qos": 1]) { a, _ in a })]
        if let volume = s.command("volume"), let level = numericParameter(volume), routes.callable(volume, with: [level.name]) {
            var fields = routes.command(volume, template: [(level.name, "{{ value | int }}")])
            fields["min"] = .number(level.range?.lowerBound ?? 0)
            fields["max"] = .number(level.range?.upperBound ?? 100)
            fields["step"] = 1
            fields["icon"] = "mdi:volume-high"
            if let state = routes.state { fields.merge(stateFields(state, field: "volume")) { a, _ in a } }
            out.append(make("number", "volume", name: "Volume", fields))
        }
        if let mute = muteSwitch(s, routes) {
            var fields = mute
            if let state = routes.state {
                fields["state_topic"] = .string(state)
                fields["value_template"] = "{{ ('ON' if value_json.mute else 'OFF') if value_json.mute is defined else '' }}"
                fields["state_on"] = "ON"
                fields["state_off"] = "OFF"
            }
            fields["icon"] = "mdi:volume-off"
            out.append(make("switch", "mute", name: "Mute", fields))
        }
        for button in transportButtons {
            guard let command = s.command(button), routes.callable(command, with: []) else { continue }
            out.append(make("button", button, name: button.prefix(1).uppercased() + button.dropFirst(),
                            routes.press(command).merging(["icon": .string(icon(button))]) { a, _ in a }))
        }
        if let playmode = s.command("playmode"), let mode = playmode.signature.parameters.first(where: { $0.name != "speaker" && $0.type == .str }),
           routes.callable(playmode, with: [mode.name]) {
            var fields = routes.command(playmode, template: [(mode.name, "{{ value | to_json }}")])
            fields["options"] = .array(playModes)
            fields["icon"] = "mdi:shuffle-variant"
            if let state = routes.state {
                fields["state_topic"] = .string(state)
                fields["value_template"] = "{{ value_json.play_mode | lower if value_json.play_mode is defined else '' }}"
            }
            out.append(make("select", "play_mode", name: "Play mode", fields))
        }
        if let state = routes.state, transportCommands.contains(where: { s.command($0).map { routes.callable($0, with: []) } ?? false }) {
            out.append(make("sensor", "transport", name: "Transport", [
                "state_topic": .string(state),
                "value_template": "{{ value_json.state if value_json.state is defined else '' }}",
                "json_attributes_topic": .string(state),
                "json_attributes_template": .string(
                    "{{ {'title': value_json.title if value_json.title is defined else none, "
                        + "'artist': value_json.artist if value_json.artist is defined else none, "
                        + "'album': value_json.album if value_json.album is defined else none} | to_json }}"),
                "icon": "mdi:speaker",
            ]))
        }
        return out
    }

    /// `mute` + `unmute` (the Sonos shape), or one `mute` with a bool parameter.
    static func muteSwitch(_ s: DiscoveredSpeaker, _ routes: SpeakerRoutes) -> [String: JSONValue]? {
        guard let mute = s.command("mute") else { return nil }
        if let flag = mute.signature.parameters.first(where: { $0.name != "speaker" && $0.type == .bool }),
           routes.callable(mute, with: [flag.name]) {
            return routes.toggle(on: (mute, [flag.name: true]), off: (mute, [flag.name: false]))
        }
        if let unmute = s.command("unmute"), routes.callable(mute, with: []), routes.callable(unmute, with: []) {
            return routes.toggle(on: (mute, [:]), off: (unmute, [:]))
        }
        return nil
    }

    static func numericParameter(_ c: DiscoveredSpeaker.Command) -> CommandSignature.Parameter? {
        c.signature.parameters.first { $0.name != "speaker" && [.i32, .i64, .u32, .f64].contains($0.type) }
    }

    /// A number's state from the retained speaker state; a state without the field is ignored by
    /// Home Assistant (an empty rendering), not read as "unknown".
    static func stateFields(_ topic: String, field: String) -> [String: JSONValue] {
        ["state_topic": .string(topic),
         "value_template": .string("{{ value_json.\(field) if value_json.\(field) is defined else '' }}")]
    }

    static func icon(_ button: String) -> String {
        switch button {
        case "play": "mdi:play"
        case "pause": "mdi:pause"
        case "stop": "mdi:stop"
        case "next": "mdi:skip-next"
        default: "mdi:skip-previous"
        }
    }
}
