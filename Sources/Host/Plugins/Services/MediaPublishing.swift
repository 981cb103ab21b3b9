/// The media server as plugins and the announcer see it: clips go into the store, URLs come out
/// with an address each speaker can reach.
public struct MediaPublishing: PluginMediaStore, ClipAddressing, PluginRouteHost {
    let server: MediaServer

    /// How long a clip a plugin puts is held before anything pins it: a TTS plugin stores the clip
    /// and then completes its synthesis, and the announcement pins the clip when it sees the URL.
    /// Without this, a burst of other clips could evict it in between. A clip nobody pins (a plugin
    /// storing clips for itself) becomes an ordinary one after this long.
    static let putLease = 30.0

    public init(server: MediaServer) { self.server = server }

    /// For SB_HOST_EXT_MEDIA `put`: the URL names the default address; the announcer re-addresses it
    /// per speaker.
    public func put(_ bytes: [UInt8], mime: String, ttl: Double) -> String? {
        guard let clip = try? server.store.put(bytes, mime: mime, ttl: ttl, lease: Self.putLease) else { return nil }
        return try? server.url(for: clip, speakerAddress: nil)
    }

    /// Plugins' callback routes are served by the same server.
    public var routes: PluginRoutes { server.routes }

    public func callbackBaseURL() throws -> String {
        try server.baseURL(forSpeakerAddress: nil)
    }

    /// The same clip, at the address the kernel would use to reach `speaker` (when it says where it is).
    public func url(for clipURL: String, speaker: SpeakerInfo) -> String {
        guard let address = speaker.address, let id = Self.clipID(in: clipURL), let clip = server.store.clip(id: id),
              let url = try? server.url(for: clip, speakerAddress: address) else { return clipURL }
        return url
    }

    public func pin(clipURL: String) -> ClipPin {
        // Only URLs this server handed out: a plugin may return a clip it serves elsewhere.
        guard let id = Self.clipID(in: clipURL), let base = try? server.baseURL(forSpeakerAddress: nil),
              clipURL.hasPrefix(base + "/") else { return .notOurs }
        return server.store.pin(id: id) ? .pinned : .gone
    }

    public func unpin(clipURL: String) {
        if let id = Self.clipID(in: clipURL) { server.store.unpin(id: id) }
    }

    public var refusalCount: UInt64 { server.store.refusals.count }

    public func refusal(since count: UInt64) -> String? {
        let refusals = server.store.refusals
        return refusals.count > count ? refusals.last?.description : nil
    }

    /// "http://host:port/media/<id>.<ext>" → id; nil for anything the media server would not serve.
    static func clipID(in clipURL: String) -> String? {
        guard let schemeEnd = clipURL.range(of: "://") else { return nil }
        let rest = clipURL[schemeEnd.upperBound...]
        guard let slash = rest.firstIndex(of: "/") else { return nil }
        return MediaResponder.parse(target: String(rest[slash...]))?.id
    }
}
