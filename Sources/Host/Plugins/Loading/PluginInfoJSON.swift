/// The `plugins` part of bridge/info and of `plugins list`: what is loaded, in which generation,
/// with which speakers and commands, and which files were refused.
extension PluginRegistry {
    public var infoJSON: JSONValue {
        let plugins = table.state.withLock { $0.plugins.values.sorted { $0.info.id < $1.info.id } }
        let loaded: [JSONValue] = plugins.map { p in
            let condition = condition(of: p)
            var entry: [String: JSONValue] = [
                // running | hung | restarting | crashed | down (`PluginHealth.swift`).
                "state": .string(condition.state), "restarts": .number(Double(condition.restarts)),
                "last_exit": .optional(condition.lastExit), "problem": .optional(condition.problem),
            ]
            let described: [String: JSONValue] = [
                "id": .string(p.info.id), "name": .string(p.info.name), "version": .string(p.info.version),
                "vendor": .string(p.info.vendor), "generation": .number(Double(p.generation)), "file": .string(p.file),
                "abi": .string("\(p.info.abiMajor).\(p.info.abiMinor)"),
                "extensions": .array(p.extensions.map { .string($0) }),
                "speakers": .array(directory.speakers(of: p.info.id).map { ["id": .string($0.id), "name": .string($0.name)] }),
                "commands": .array(p.commands.map { ["name": .string($0.name), "signature": .string($0.signature)] }),
            ]
            entry.merge(described) { a, _ in a }
            // Where its code runs; an isolated plugin's plugin host process.
            entry["isolation"] = .string(p.serving.isolation.rawValue)
            if let remote = p.serving as? RemoteGeneration { entry["pid"] = .number(Double(remote.pid)) }
            return .object(entry)
        }
        let rejected: [JSONValue] = table.state.withLock { s in
            s.files.sorted { $0.key < $1.key }.compactMap { path, record in
                guard let r = record.rejection else { return nil }
                return ["file": .string(path), "error": .string(r.description), "serving_older_generation": .bool(record.pluginID != nil)]
            }
        }
        return ["loaded": .array(loaded), "rejected": .array(rejected)]
    }

    /// Every speaker the drivers report (bridge/info).
    public var speakers: [SpeakerInfo] { directory.speakers }
}
