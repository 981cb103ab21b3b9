/// A clip to play, as the speaker extension takes it.
public struct SpeakerClip: Sendable, Equatable {
    public var url: String
    public var mime: String
    public var durationMs: UInt32
    /// 0…100, or -1 to keep the speaker's volume.
    public var volume: Int32
    /// The announcement it belongs to (the request's `id`), the same for every speaker.
    public var announcementID: String? = nil
    /// Play only when the speaker is playing something; the driver answers `{"skipped":…}` otherwise.
    public var onlyWhenPlaying = false
    /// Group mode: the ids of every speaker of the same driver the announcement goes to, this one
    /// included, in the request's order; nil in parallel mode.
    public var group: [String]? = nil

    public init(url: String, mime: String, durationMs: UInt32, volume: Int32) {
        self.url = url
        self.mime = mime
        self.durationMs = durationMs
        self.volume = volume
    }
}
