/// The media store as an announcement uses it: the clip behind a URL a plugin handed back, kept
/// while the announcement plays it, and its URL as a given speaker can reach the media server.
public protocol ClipAddressing: Sendable {
    /// Keeps the clip this daemon handed out as `url` in the media store until `unpin` (counted:
    /// two announcements may share a clip).
    func pin(clipAt url: String) -> ClipPin
    func unpin(_ clip: MediaClip)
    /// The clip's URL at the address the kernel would use to reach `speaker`; nil when the
    /// speaker does not say where it is (the URL as handed out does then).
    func url(for clip: MediaClip, speaker: SpeakerInfo) -> String?
    /// How many clips the media store has refused so far.
    var refusalCount: UInt64 { get }
    /// Why the media store last refused a clip, if it refused one after `refusalCount` was `count`.
    func refusal(since count: UInt64) -> String?
}
