import Logging

/// The first thing every incoming request meets, inside libmosquitto's message callback and so
/// before the broker gets its PUBACK: record it durably, then ring the router's doorbell.
public final class RequestIntake: Sendable {
    private let spool: Spool
    private let topics: Topics
    private let logger: Logger
    private let bell: AsyncStream<Void>.Continuation
    /// Rings once per batch of newly recorded requests (and once at start for the journal's leftovers).
    public let doorbell: AsyncStream<Void>

    public init(spool: Spool, topics: Topics, logger: Logger) {
        self.spool = spool
        self.topics = topics
        self.logger = logger
        (doorbell, bell) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
        bell.yield()
    }

    /// Returns false only when the request could not be recorded: the caller must then keep it
    /// from being acknowledged.
    public func receive(topic: String, payload: [UInt8], mid: Int32, responseTopic: String?, correlationData: [UInt8]?) -> Bool {
        let key = RequestKey.derive(route: topics.route(topic), payload: payload, mid: mid, topic: topic)
        do {
            if try spool.recordRequest(key: key, topic: topic, payload: payload, responseTopic: responseTopic,
                                       correlationData: correlationData) != nil {
                bell.yield()
            } else {
                logger.debug("intake: \(topic) repeats request \(key); already handled")
            }
            return true
        } catch {
            logger.critical("intake: cannot record a request from \(topic): \(error)")
            return false
        }
    }
}
