/// The media server as plugins and the announcer see it: clips go into the store, URLs come out
/// with an address each speaker can reach.
public struct MediaPublishing: PluginMediaStore, ClipAddressing, PluginRouteHost {
    let server: MediaServer

    /// How long a clip a plugin puts is held before anything pins it: a TTS plugin stores the clip
    /// and then completes its synthesis, and the announcement pins the clip when it sees the URL.
    /// Without this, a burst of other clips could evict it in between. A clip nobody pins (a plugin
    /// storing clips for itself) becomes an ordinary one after this long.
    static let putLease = 30.0

    private let handedOut = HandedOutClips()

    /// Plugins' callback routes, served by the same server (`routes` is the table it was given).
    public let routes: PluginRoutes

    public init(server: MediaServer, routes: PluginRoutes) {
        self.server = server
        self.routes = routes
    }

    /// For SB_HOST_EXT_MEDIA `put`: the URL names the default address; the announcer re-addresses it
    /// per speaker.
    public func put(_ bytes: [UInt8], mime: String, ttl: Double) -> String? {
        guard let clip = try? server.store.put(bytes, mime: mime, ttl: ttl, lease: Self.putLease),
              let url = try? server.url(for: clip, speakerAddress: nil) else { return nil }
        handedOut.remember(url: url, clipID: clip.id)
        return url
    }

    public func callbackBaseURL() throws -> String {
        try server.baseURL(forSpeakerAddress: nil)
    }

    public func pin(clipAt url: String) -> ClipPin {
        // Only URLs this server handed out: a plugin may return a clip it serves elsewhere.
        guard let id = handedOut.clipID(handedOutAs: url) else { return .notOurs }
        return server.store.pinClip(id: id).map { .pinned($0) } ?? .gone
    }

    public func unpin(_ clip: MediaClip) { server.store.unpin(id: clip.id) }

    public func url(for clip: MediaClip, speaker: SpeakerInfo) -> String? {
        guard let address = speaker.address else { return nil }
        return try? server.url(for: clip, speakerAddress: address)
    }

    public var refusalCount: UInt64 { server.store.refusals.count }

    public func refusal(since count: UInt64) -> String? {
        let refusals = server.store.refusals
        return refusals.count > count ? refusals.last?.description : nil
    }
}
