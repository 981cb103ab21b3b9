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

    typealias Entry = (topic: String, payload: [UInt8])
    typealias Built = (bridge: [Entry], speakers: [(id: String, entries: [Entry])])
    /// The configs of the last speaker list seen: the service looks several times a second, and the
    /// list seldom changes, so they are built (and serialised) only when it does.
    private var cache: (speakers: [DiscoveredSpeaker], built: Built)?

    init(context: DiscoveryContext, removeAfter: Double, ledger: DiscoveryLedger) {
        self.context = context
        self.removeAfter = removeAfter
        self.ledger = ledger
    }

    mutating func next(speakers: [DiscoveredSpeaker], now: Double, force: Bool, mayRemove: Bool, pending: Int?) -> Result {
        var result = Result()
        var ledger = self.ledger
        let built = configs(for: speakers)
        let desired = built.bridge + built.speakers.flatMap(\.entries)
        let bridgeTopics = built.bridge.map(\.topic)
        var clears = Set(ledger.bridgeTopics).subtracting(bridgeTopics)
        if ledger.bridgeTopics != bridgeTopics {
            ledger.bridgeTopics = bridgeTopics
            result.ledgerChanged = true
        }
        var present = Set<String>()
        for (id, entries) in built.speakers {
            present.insert(id)
            let topics = entries.map(\.topic)
            let old = ledger.speakers[id]?.topics ?? []
            clears.formUnion(Set(old).subtracting(topics))
            if old != topics { result.ledgerChanged = true }
            ledger.speakers[id] = .init(lastSeen: now, topics: topics)
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

    private mutating func configs(for speakers: [DiscoveredSpeaker]) -> Built {
        if let cache, cache.speakers == speakers { return cache.built }
        let (prefix, node) = (context.prefix, context.node)
        func entries(_ configs: [DiscoveryConfig]) -> [Entry] {
            configs.map { (topic: $0.topic(prefix: prefix, node: node), payload: Array($0.payload.serialized().utf8)) }
        }
        var seen = Set<String>()
        let built: Built = (entries(BridgeEntities.configs(context)),
                            speakers.filter { seen.insert($0.id).inserted }.map { ($0.id, entries(SpeakerEntities.configs($0, context))) })
        cache = (speakers, built)
        return built
    }

    mutating func commit() {
        guard let s = staged else { return }
        (ledger, published, lastPending, configCount) = (s.ledger, s.published, s.pending, s.count)
        staged = nil
    }
}
