import Logging

/// The first thing every incoming request meets, inside libmosquitto's message callback and so
/// before the broker gets its PUBACK: check the limits, record it durably, then ring the router's
/// doorbell.
public final class RequestIntake: MessageIntake {
    /// What a request may cost before anything of it is kept.
    public struct Limits: Sendable {
        /// Bytes of payload (`mqtt.max_payload`).
        public var maxPayload: Int
        /// Unfinished requests in the journal (`journal.max_pending`).
        public var maxPending: Int

        public init(maxPayload: Int = 256 << 10, maxPending: Int = 10_000) {
            self.maxPayload = maxPayload
            self.maxPending = maxPending
        }
    }

    private let spool: Spool
    private let topics: Topics
    private let limits: Limits
    private let refusals: RequestRefusal
    private let metrics: DaemonMetrics?
    private let logger: Logger
    private let bell: AsyncStream<Void>.Continuation
    /// Rings once per batch of newly recorded requests (and once at start for the journal's leftovers).
    public let doorbell: AsyncStream<Void>

    public init(spool: Spool, topics: Topics, limits: Limits = Limits(), responses: ResponseTopicPolicy? = nil,
                metrics: DaemonMetrics? = nil, logger: Logger) {
        self.spool = spool
        self.topics = topics
        self.limits = limits
        self.refusals = RequestRefusal(topics: topics, responses: responses ?? ResponseTopicPolicy(topics: topics, filters: []))
        self.metrics = metrics
        self.logger = logger
        (doorbell, bell) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
        bell.yield()
    }

    /// Wakes the router for requests put into the journal by other means (a retried dead letter).
    public func ring() { bell.yield() }

    /// Returns false only when the request (or the answer refusing it) could not be recorded: the
    /// caller must then keep it from being acknowledged.
    ///
    /// `payload` is libmosquitto's buffer: its size is checked before a byte of it is copied, so
    /// an oversized message costs nothing but its answer.
    public func receive(topic: String, payload raw: UnsafeRawBufferPointer, qos: Int32, mid: Int32,
                        responseTopic: String?, correlationData: [UInt8]?) -> Bool {
        let route = topics.route(topic)
        if raw.count > limits.maxPayload {
            return refuse(route: route, topic: topic, payload: raw, responseTopic: responseTopic, correlationData: correlationData,
                          reason: "the message is \(raw.count) bytes; mqtt.max_payload allows at most \(limits.maxPayload) bytes")
        }
        let payload = Array(raw)
        let name = RequestKey.ownName(route: route, payload: payload)
        if let name, name.value.utf8.count > RequestKey.maxNameBytes {
            return refuse(route: route, topic: topic, payload: payload, responseTopic: responseTopic, correlationData: correlationData,
                          reason: "\(name.field) is \(name.value.utf8.count) bytes long; at most \(RequestKey.maxNameBytes) bytes are allowed")
        }
        if spool.pendingCount >= limits.maxPending {
            return refuse(route: route, topic: topic, payload: payload, responseTopic: responseTopic, correlationData: correlationData,
                          reason: "the journal holds \(limits.maxPending) unfinished requests (journal.max_pending); try again later")
        }
        let key = RequestKey.derive(name: name, payload: payload, qos: qos, mid: mid, topic: topic)
        do {
            if try spool.recordRequest(key: key, topic: topic, payload: payload, responseTopic: responseTopic,
                                       correlationData: correlationData) != nil {
                bell.yield()
            } else {
                logger.debug("intake: \(topic) repeats request \(key ?? "-"); already handled")
            }
            return true
        } catch {
            logger.critical("intake: cannot record a request from \(topic): \(error)")
            return false
        }
    }

    /// Answers a request that will not be kept, with the reason; nothing of it is journalled.
    private func refuse<C: RandomAccessCollection<UInt8>>(
        route: Topics.Route, topic: String, payload: C, responseTopic: String?, correlationData: [UInt8]?, reason: String
    ) -> Bool where C.Index == Int {
        logger.warning("intake: refused a message on \(topic): \(reason)")
        // An announcement refused here never reaches the router, which counts the others.
        if case .speak = route { metrics?.announcementFinished(done: false) }
        let messages = refusals.messages(route: route, payload: payload, responseTopic: responseTopic,
                                         correlationData: correlationData, reason: reason)
        do {
            try spool.publish(messages)
            return true
        } catch {
            logger.critical("intake: cannot record the refusal of a message on \(topic): \(error)")
            return false
        }
    }
}
