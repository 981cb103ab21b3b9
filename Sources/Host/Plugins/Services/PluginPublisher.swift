/// Where a plugin's publications go: the daemon's outbound queue (or, for `plugin check`, nowhere).
public protocol PluginPublisher: Sendable {
    func publish(_ message: OutboundMessage)
}
