/// How a plugin's code runs: in the daemon's own process (`inline`), or in a plugin host process of
/// its own (`process`), where a crash or a hang cannot take the MQTT session with it.
public enum PluginIsolation: String, Sendable, Equatable, CaseIterable {
    case inline
    case process
}
