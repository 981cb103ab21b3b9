/// Where the speaker directory learns the speakers from: the loaded speaker drivers. The plugin
/// layer provides it, so the directory does not depend on how plugins are loaded.
public protocol SpeakerDrivers: Sendable {
    /// Every loaded speaker driver's speakers as it reports them now, keyed by driver id.
    func reportSpeakers() async -> [String: [SpeakerInfo]]
}
