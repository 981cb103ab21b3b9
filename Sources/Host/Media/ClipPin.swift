/// What pinning the clip behind a URL found.
public enum ClipPin: Sendable, Equatable {
    /// One of ours, now held in the store until it is unpinned.
    case pinned(MediaClip)
    /// Not a clip of this daemon's media store (a plugin serving its own): nothing to keep.
    case notOurs
    /// One of ours, but it has already left the store (expired or evicted).
    case gone
}
