/// `<base>/bridge/request/plugins`: what is loaded, in which generation, and what was refused.
public struct PluginListHandler: BridgeRequestHandler {
    public let name = "plugins"
    public let isSlow = false
    let registry: PluginRegistry

    public init(registry: PluginRegistry) { self.registry = registry }

    public func handle(_ request: BridgeRequest) async throws(BridgeRequestError) -> JSONValue {
        registry.infoJSON
    }
}

/// `<base>/bridge/request/plugins/reload` with `{"id": "…"}` for one plugin or nothing for all.
/// Answers with each file's outcome; a failed reload is an error answer (the old build keeps serving).
public struct PluginReloadHandler: BridgeRequestHandler {
    public let name = "plugins/reload"
    public let isSlow = true
    let registry: PluginRegistry

    public init(registry: PluginRegistry) { self.registry = registry }

    public func handle(_ request: BridgeRequest) async throws(BridgeRequestError) -> JSONValue {
        var id: String? = nil
        switch request.fields["id"] {
        case nil, .null?: break
        case .string(let s)?: id = s
        default: throw BridgeRequestError("id must be a plugin id string")
        }
        let results = await registry.reload(id: id)
        let failures = results.filter { $0.outcome == "failed" }
        if !failures.isEmpty {
            throw BridgeRequestError(failures.map { $0.error ?? "\($0.file): failed" }.joined(separator: "; "))
        }
        return .array(results.map { r in
            ["file": .string(r.file), "id": .optional(r.pluginID), "outcome": .string(r.outcome),
             "generation": r.generation.map { .number(Double($0)) } ?? .null]
        })
    }
}

/// `<base>/bridge/request/play` with `{"speaker":…, "url":…, "mime":…, "duration_ms":…, "volume":…}`:
/// plays a clip (a doorbell sound, a stream) and answers when the speaker's driver says it ended.
public struct PlayHandler: BridgeRequestHandler {
    public let name = "play"
    public let isSlow = true
    let registry: PluginRegistry

    public init(registry: PluginRegistry) { self.registry = registry }

    public func handle(_ request: BridgeRequest) async throws(BridgeRequestError) -> JSONValue {
        let f = request.fields
        guard let speaker = f["speaker"]?.stringValue, !speaker.isEmpty else { throw BridgeRequestError("speaker is missing") }
        guard let url = f["url"]?.stringValue, url.hasPrefix("http://") || url.hasPrefix("https://") else {
            throw BridgeRequestError("url must be an http(s) URL the speaker can fetch")
        }
        let duration = f["duration_ms"]?.numberValue ?? 0
        let volume = f["volume"]?.numberValue ?? -1
        guard duration >= 0, duration < 86_400_000, volume >= -1, volume <= 100 else {
            throw BridgeRequestError("duration_ms must be 0 or more, volume 0 to 100")
        }
        let clip = SpeakerClip(url: url, mime: f["mime"]?.stringValue ?? "audio/wav",
                                         durationMs: UInt32(duration), volume: Int32(volume))
        let target: SpeakerHandle
        do { target = try await registry.directory.resolve(one: speaker) } catch { throw BridgeRequestError(error.description) }
        switch await registry.play(clip, on: target) {
        case .ok(let data): return data
        case .error(let message): throw BridgeRequestError(message)
        }
    }
}

/// `<base>/bridge/request/voices`: the voices and languages of the TTS engine.
public struct VoicesHandler: BridgeRequestHandler {
    public let name = "voices"
    public let isSlow = true
    let registry: PluginRegistry

    public init(registry: PluginRegistry) { self.registry = registry }

    public func handle(_ request: BridgeRequest) async throws(BridgeRequestError) -> JSONValue {
        switch await registry.voices() {
        case .ok(let data): return data
        case .error(let message): throw BridgeRequestError(message)
        }
    }
}
