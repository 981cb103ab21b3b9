/// One look at the speakers, turned into the retained messages that bring the broker's discovery
/// topics up to date: new or changed configs (all of them when forced), empty payloads for configs
/// no longer wanted (a command a driver stopped declaring, a moved prefix, a speaker unseen for
/// `removeAfter`), and the pending-announcements state. Nothing is taken as done until `commit`,
/// which the service calls once the messages are in the spool.
struct DiscoveryRound {
    struct Result {
        var messages: [OutboundMessage] = []
        var removedSpeakers: [String] = []
        var ledgerChanged = false
    }

    let context: DiscoveryContext
    let removeAfter: Double
    private(set) var ledger: DiscoveryLedger
    private var published: [String: [UInt8]] = [:]
    private var lastPending: Int?
    private(set) var configCount = 0
    private var staged: (ledger: DiscoveryLedger, published: [String: [UInt8]], pending: Int?, count: Int)?

    init(context: DiscoveryContext, removeAfter: Double, ledger: DiscoveryLedger) {
        self.context = context
        self.removeAfter = removeAfter
        self.ledger = ledger
    }

    mutating func next(speakers: [DiscoveredSpeaker], now: Double, force: Bool, mayRemove: Bool, pending: Int?) -> Result {
        var result = Result()
        var ledger = self.ledger
        let (prefix, node) = (context.prefix, context.node)
        var desired: [(topic: String, payload: [UInt8])] = []
        func add(_ configs: [DiscoveryConfig]) -> [String] {
            let entries = configs.map { (topic: $0.topic(prefix: prefix, node: node), payload: Array($0.payload.serialized().utf8)) }
            desired += entries
            return entries.map(\.topic)
        }

        let bridgeTopics = add(BridgeEntities.configs(context))
        var clears = Set(ledger.bridgeTopics).subtracting(bridgeTopics)
        if ledger.bridgeTopics != bridgeTopics {
            ledger.bridgeTopics = bridgeTopics
            result.ledgerChanged = true
        }
        var present = Set<String>()
        for speaker in speakers where present.insert(speaker.id).inserted {
            let topics = add(SpeakerEntities.configs(speaker, context))
            let old = ledger.speakers[speaker.id]?.topics ?? []
            clears.formUnion(Set(old).subtracting(topics))
            if old != topics { result.ledgerChanged = true }
            ledger.speakers[speaker.id] = .init(lastSeen: now, topics: topics)
        }
        for (id, entry) in ledger.speakers.sorted(by: { $0.key < $1.key }) where !present.contains(id) {
            guard mayRemove, now - entry.lastSeen >= removeAfter else { continue }
            clears.formUnion(entry.topics)
            ledger.speakers[id] = nil
            result.removedSpeakers.append(id)
            result.ledgerChanged = true
        }
        // A topic another speaker now wants (two ids with one token cannot happen, a driver change can).
        clears.subtract(desired.map(\.topic))

        var published = self.published
        for (topic, payload) in desired where force || published[topic] != payload {
            result.messages.append(OutboundMessage(topic: topic, payload: payload, retain: true))
            published[topic] = payload
        }
        for topic in clears.sorted() {
            result.messages.append(OutboundMessage(topic: topic, payload: [], retain: true))
            published[topic] = nil
        }
        var pendingNow = lastPending
        if let pending, force || pending != lastPending {
            result.messages.append(OutboundMessage(topic: context.announcementsState, json: ["pending": .number(Double(pending))], retain: true))
            pendingNow = pending
        }
        staged = (ledger, published, pendingNow, desired.count)
        return result
    }

    mutating func commit() {
        guard let s = staged else { return }
        (ledger, published, lastPending, configCount) = (s.ledger, s.published, s.pending, s.count)
        staged = nil
    }
}
