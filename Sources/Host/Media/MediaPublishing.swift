/// The media server as plugins and the announcer see it: clips go into the store, URLs come out
/// with an address each speaker can reach.
public struct MediaPublishing: PluginMediaStore, ClipAddressing, PluginRouteHost {
    let server: MediaServer

    public init(server: MediaServer) { self.server = server }

    /// For SB_HOST_EXT_MEDIA `put`: the URL names the default address; the announcer re-addresses it
    /// per speaker.
    public func put(_ bytes: [UInt8], mime: String, ttl: Double) -> String? {
        guard let clip = try? server.store.put(bytes, mime: mime, ttl: ttl) else { return nil }
        return try? server.url(for: clip, speakerAddress: nil)
    }

    /// Plugins' callback routes are served by the same server.
    public var routes: PluginRoutes { server.routes }

    public func callbackBaseURL() throws -> String {
        try server.baseURL(forSpeakerAddress: nil)
    }

    /// The same clip, at the address the kernel would use to reach `speaker` (when it says where it is).
    public func url(for clipURL: String, speaker: SpeakerInfo) -> String {
        guard let address = speaker.address, let name = clipURL.split(separator: "/").last,
              let id = name.split(separator: ".").first, let clip = server.store.clip(id: String(id)),
              let url = try? server.url(for: clip, speakerAddress: address) else { return clipURL }
        return url
    }
}
