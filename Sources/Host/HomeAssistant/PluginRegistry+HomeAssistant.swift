/// The registry's speakers with what discovery needs of their drivers: vendor, version and the
/// declared commands (a signature that does not parse was refused at load, so none is skipped here
/// that the router would accept).
extension PluginRegistry: HomeAssistantSpeakerSource {
    public var discoveredSpeakers: [DiscoveredSpeaker] {
        let drivers = table.state.withLock { s in
            s.plugins.mapValues { p in
                (vendor: p.info.vendor, version: p.info.version,
                 commands: p.commands.compactMap { c -> DiscoveredSpeaker.Command? in
                     (try? CommandSignature.parse(c.signature)).map { .init(name: c.name, signature: $0) }
                 })
            }
        }
        return directory.handles.compactMap { h in
            guard let d = drivers[h.driver] else { return nil }
            return DiscoveredSpeaker(speaker: h.speaker, driver: h.driver, manufacturer: d.vendor,
                                     driverVersion: d.version, commands: d.commands)
        }
    }
}
