/// The network side of the host services: which interface UDP sockets use by default, and the
/// server that carries callback routes.
public struct PluginNetworkServices: Sendable {
    /// `network.interface`: a name or IPv4 address; "" for the first up, non-loopback,
    /// multicast-capable IPv4 interface.
    public var defaultInterface: String
    /// nil: no HTTP server, so no SB_HOST_EXT_ROUTES.
    public var routeHost: (any PluginRouteHost)?
    /// `plugin check`: UDP sockets are handed out but bind and send nothing; WebSockets are refused.
    public var offline: Bool

    public init(defaultInterface: String = "", routeHost: (any PluginRouteHost)? = nil, offline: Bool = false) {
        self.defaultInterface = defaultInterface
        self.routeHost = routeHost
        self.offline = offline
    }
}
