/// `<base>/bridge/request/plugins`: what is loaded, in which generation, and what was refused.
public struct PluginListHandler: BridgeRequestHandler {
    public let name = "plugins"
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
