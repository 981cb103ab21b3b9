import PluginAPI

/// Calls into the plugins: typed commands, clips on speakers, speech. Each goes through the slot of
/// the plugin id it names, so a reload in progress makes it wait instead of losing it.
extension PluginRegistry {
    /// Calls a typed command of plugin `id` with JSON arguments.
    public func invoke(plugin id: String, command: String, arguments: [String: JSONValue]) async -> (CommandOutcome, generation: Int?) {
        guard let slot = table.state.withLock({ $0.plugins[id]?.slot }) else {
            let known = table.state.withLock { $0.plugins.keys.sorted() }.joined(separator: ", ")
            return (.error("no plugin with id \(id) is loaded" + (known.isEmpty ? "" : "; loaded: \(known)")), nil)
        }
        return await slot.with(unloaded: (.error("plugin \(id) was unloaded"), nil), unavailable: { (.error($0), nil) },
                               outageWait: settings.callTimeout) { g in
            (await g.invoke(command, arguments: arguments), g.number)
        }
    }

    /// `<base>/<speaker>/set`: `{"command":"volume", …}` for the driver of the speaker the
    /// directory resolves `speaker` to; its id goes in as the `speaker` argument.
    public func speakerCommand(speaker: String, fields: [String: JSONValue]) async -> (CommandOutcome, generation: Int?) {
        let handle: SpeakerHandle
        do { handle = try await directory.resolve(one: speaker) } catch { return (.error(error.description), nil) }
        guard case .string(let command)? = fields["command"] else {
            return (.error("a speaker command needs \"command\": the name of the command to run"), nil)
        }
        var args = fields
        args["command"] = nil
        args["speaker"] = .string(handle.speaker.id)
        return await invoke(plugin: handle.driver, command: command, arguments: args)
    }

    /// Plays a clip on a speaker through its driver, waiting for the end. `onStarted` learns the
    /// operation id (for `cancel`).
    public func play(_ clip: SpeakerClip, on speaker: SpeakerHandle, onStarted: @escaping @Sendable (UInt64) -> Void = { _ in })
        async -> CommandOutcome
    {
        guard let slot = table.state.withLock({ $0.plugins[speaker.driver]?.slot }) else {
            return .error("the driver of \(speaker.speaker.name) was unloaded")
        }
        let operations = self.operations, timeout = settings.operationTimeout, id = speaker.speaker.id
        return await slot.with(unloaded: .error("the driver of \(speaker.speaker.name) was unloaded"), unavailable: { .error($0) },
                               outageWait: settings.callTimeout) { g in
            await g.playClip(speakerID: id, clip: clip, operations: operations, timeout: timeout, onStarted: onStarted)
        }
    }

    /// Stops a playing operation on `speaker` early (an interrupting announcement).
    public func cancel(operation: UInt64, on speaker: SpeakerHandle) async {
        guard let slot = table.state.withLock({ $0.plugins[speaker.driver]?.slot }) else { return }
        // Not through the gate: a reload waiting for this very clip to end must not make the cut wait.
        await slot.current.cancel(operation: operation)
    }

    /// The TTS engine: the first loaded plugin (by id) that offers the TTS extension.
    private var ttsSlot: PluginSlot? {
        table.state.withLock { s in
            s.plugins.sorted { $0.key < $1.key }.first { $0.value.extensions.contains(SB_EXT_TTS) }?.value.slot
        }
    }

    public func voices() async -> CommandOutcome {
        guard let slot = ttsSlot else { return .error("no TTS plugin is loaded") }
        return await slot.with(unloaded: .error("the TTS plugin was unloaded"), unavailable: { .error($0) },
                               outageWait: settings.callTimeout) { await $0.voices() }
    }

    /// Speech from the TTS engine.
    public func synthesize(_ request: TTSRequest) async -> CommandOutcome {
        guard let slot = ttsSlot else { return .error("no TTS plugin is loaded") }
        let operations = self.operations, timeout = settings.operationTimeout
        return await slot.with(unloaded: .error("the TTS plugin was unloaded"), unavailable: { .error($0) },
                               outageWait: settings.callTimeout) { g in
            await g.synthesize(request, operations: operations, timeout: timeout)
        }
    }
}
