/// What announcements need from the plugins: speech from the TTS engine and clips played on
/// speakers. The plugin registry provides it; a unit test can give an in-memory one.
public protocol AnnouncementBackend: Sendable {
    /// Speech for `request`; `.ok` carries the TTS plugin's `{"url","duration_ms","cached",…}`.
    func synthesize(_ request: TTSRequest) async -> CommandOutcome
    /// Plays `clip` on `speaker` until its driver says it ended; `onStarted` learns the operation id.
    func play(_ clip: SpeakerClip, on speaker: SpeakerHandle, onStarted: @escaping @Sendable (UInt64) -> Void) async -> CommandOutcome
    /// Stops the operation playing on `speaker` early (it still ends, cancelled).
    func cancel(operation: UInt64, on speaker: SpeakerHandle) async
}

extension PluginRegistry: AnnouncementBackend {}
