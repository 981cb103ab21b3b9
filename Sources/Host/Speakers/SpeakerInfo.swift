/// A speaker as its driver describes it.
public struct SpeakerInfo: Sendable, Equatable {
    public let id: String
    public let name: String
    public let model: String
    public let group: String?
    /// Where the speaker is, so clip URLs can name an address it reaches; nil when unknown.
    public let address: String?
}
