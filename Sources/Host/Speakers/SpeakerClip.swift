/// A clip to play, as the speaker extension takes it.
public struct SpeakerClip: Sendable, Equatable {
    public var url: String
    public var mime: String
    public var durationMs: UInt32
    /// 0…100, or -1 to keep the speaker's volume.
    public var volume: Int32

    public init(url: String, mime: String, durationMs: UInt32, volume: Int32) {
        self.url = url
        self.mime = mime
        self.durationMs = durationMs
        self.volume = volume
    }
}
