import Hummingbird
import Logging

/// The status page's two API paths on the admin listener: `GET /api/events` (server-sent events
/// carrying the MQTT contract's messages) and `POST /api/request` (a request of the MQTT contract,
/// recorded by the same intake as one from the broker). Access is checked before it is called.
/// SKELETON (#14): helper S2 fills this in.
public final class PageAPI: Sendable {
    public init(feed: LiveFeed, intake: RequestIntake, topics: Topics, maxPayload: Int,
                snapshot: @escaping @Sendable () -> [OutboundMessage], logger: Logger) {}

    /// The answer for `path` (`/api/...`, without the query), or nil when it is not an API path.
    func respond(to request: Request, path: Substring) async -> Response? { nil }
}
