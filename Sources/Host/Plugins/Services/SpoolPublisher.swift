import Logging

/// Plugins publish through the daemon's persisted outbound queue, like everything else; their
/// retained messages are remembered too, so the latest states can be published again.
struct SpoolPublisher: PluginPublisher {
    let spool: Spool
    let retained: RetainedStates
    let logger: Logger

    func publish(_ message: OutboundMessage) {
        if retained.remember(message) {
            logger.warning("plugins: more than \(retained.maxTopics) retained topics; \(message.topic) and later new ones are published but not republished after Home Assistant's birth")
        }
        do { try spool.publish([message]) } catch {
            logger.error("plugins: cannot queue a message for \(message.topic): \(error)")
        }
    }
}
