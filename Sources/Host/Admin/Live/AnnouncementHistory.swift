/// The events of the last announcements, by announcement id, for a page that opens later: its
/// list shows what happened before it was there, with the same events it would have seen live.
///
/// Not thread-safe: `LiveFeed` keeps it under its lock. Bounded by announcements (`capacity`)
/// and by events per announcement (`maxEventsPerAnnouncement`: the same id refused again and
/// again, each time with a `failed` event, must not grow one entry without end).
struct AnnouncementHistory {
    let capacity: Int
    static let maxEventsPerAnnouncement = 64

    /// An announcement's key: its id, or, for an event without one, a number of its own (such an
    /// event cannot be told apart from another announcement's, so it stands alone).
    private enum Key: Hashable {
        case id(String)
        case anonymous(UInt64)
    }

    private var events: [Key: [OutboundMessage]] = [:]
    /// Keys in the order their announcements first appeared; `head` skips the evicted ones.
    private var order: [Key] = []
    private var head = 0
    private var anonymous: UInt64 = 0

    init(capacity: Int) { self.capacity = max(1, capacity) }

    var count: Int { order.count - head }

    mutating func record(_ message: OutboundMessage) {
        let key: Key
        if let id = Self.id(of: message.payload) {
            key = .id(id)
        } else {
            anonymous += 1
            key = .anonymous(anonymous)
        }
        if var known = events[key] {
            if known.count >= Self.maxEventsPerAnnouncement { known.removeFirst() }
            known.append(message)
            events[key] = known
            return
        }
        events[key] = [message]
        order.append(key)
        while count > capacity {
            events[order[head]] = nil
            head += 1
        }
        if head > 256, head * 2 > order.count {
            order.removeFirst(head)
            head = 0
        }
    }

    /// Every kept event, announcement by announcement (oldest first), each one's in order.
    var replay: [OutboundMessage] {
        order[head...].flatMap { events[$0] ?? [] }
    }

    /// The event's `id` when it is a string. The events are the daemon's own small JSON objects;
    /// anything else (not JSON, huge) is taken as having none.
    private static func id(of payload: [UInt8]) -> String? {
        guard payload.count <= 64 << 10, let json = try? JSONValue.parse(payload) else { return nil }
        return json["id"]?.stringValue
    }
}
