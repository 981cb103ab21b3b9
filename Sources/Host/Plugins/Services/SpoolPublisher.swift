import Logging

/// Plugins publish through the daemon's persisted outbound queue, like everything else.
struct SpoolPublisher: PluginPublisher {
    let spool: Spool
    let logger: Logger

    func publish(_ message: OutboundMessage) {
        do { try spool.publish([message]) } catch {
            logger.error("plugins: cannot queue a message for \(message.topic): \(error)")
        }
    }
}
