/// A speaker found in the directory: what it is, and which driver plays it. Calls to the driver
/// name the speaker by `speaker.id` only; names and groups end at the directory.
public struct SpeakerHandle: Sendable, Equatable {
    public let speaker: SpeakerInfo
    /// The id of the plugin that drives the speaker.
    public let driver: String

    public init(speaker: SpeakerInfo, driver: String) {
        self.speaker = speaker
        self.driver = driver
    }
}
