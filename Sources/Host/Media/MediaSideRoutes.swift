import Hummingbird
import Logging

/// Requests the media server hands on instead of answering from its store: the plugins' callback
/// routes (GENA NOTIFY and the like, any method), which the plugin layer keeps. Declared here so
/// the server does not depend on the layer above it.
public protocol MediaSideRoutes: Sendable {
    /// Whether a request target ("/plugin/…") is theirs; checked before anything else.
    func handles(_ target: String) -> Bool
    /// `remoteAddress`: the peer's IP ("192.168.1.30"; an IPv4-mapped IPv6 peer as plain IPv4), so a
    /// plugin can accept a callback only from the device it expects.
    func respond(to request: Request, remoteAddress: String?, logger: Logger) async -> Response
}
