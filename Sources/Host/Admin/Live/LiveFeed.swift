/// Everything the daemon publishes, as it is recorded for the broker, fanned out to the status
/// page's open event streams; and the last announcements' events for a page that opens later.
/// SKELETON (#14): helper S2 fills this in.
public final class LiveFeed: Sendable {
    public init(topics: Topics, maxAnnouncements: Int = 200) {}

    /// Called by the spool, in journal order, for every outbound message it records. Never blocks.
    public func published(_ messages: [OutboundMessage]) {}
}
