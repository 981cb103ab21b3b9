/// What to say, as the TTS extension takes it.
public struct TTSRequest: Sendable, Equatable {
    public var text: String
    public var voice: String?
    /// Words per minute; 0 for the engine's default.
    public var rate: Int32 = 0
    /// 0…100; -1 for the engine's default.
    public var pitch: Int32 = -1
    public var ssml = false

    public init(text: String, voice: String? = nil) {
        self.text = text
        self.voice = voice
    }
}
