/// Where plugins put clips for the speakers to fetch (the media server's store).
public protocol PluginMediaStore: Sendable {
    /// Stores a copy of `bytes` and returns the URL to hand to speakers, or nil when it cannot.
    func put(_ bytes: [UInt8], mime: String, ttl: Double) -> String?
}
