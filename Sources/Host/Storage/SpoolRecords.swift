import Foundation

/// A request as it arrived from the broker, recorded before it was acknowledged.
public struct InboundRequest: Sendable, Equatable {
    public let seq: UInt64
    /// The idempotency key: the request's own `id`/`transaction`, or one derived from the MQTT
    /// message (see `RequestKey`). The same key is processed once. "" for a request that is never
    /// deduplicated (QoS 0 without an id).
    public let key: String
    public let topic: String
    public let payload: [UInt8]
    /// MQTT 5 response topic and correlation data, answered in kind.
    public let responseTopic: String?
    public let correlationData: [UInt8]?
    /// Seconds since 1970.
    public let receivedAt: Double
}

/// Something the bridge wants the broker to have. All outbound traffic is QoS 1.
public struct OutboundMessage: Sendable, Equatable {
    public var topic: String
    public var payload: [UInt8]
    /// Retained topics are state: while queued, a newer value replaces an older one.
    public var retain: Bool
    public var correlationData: [UInt8]?

    public init(topic: String, payload: [UInt8], retain: Bool = false, correlationData: [UInt8]? = nil) {
        self.topic = topic
        self.payload = payload
        self.retain = retain
        self.correlationData = correlationData
    }

    public init(topic: String, json: JSONValue, retain: Bool = false, correlationData: [UInt8]? = nil) {
        self.init(topic: topic, payload: Array(json.serialized().utf8), retain: retain,
                  correlationData: correlationData)
    }
}

/// A request taken out of the journal because the daemon kept dying while it was being processed.
public struct DeadLetter: Sendable, Equatable {
    public let request: InboundRequest
    /// Seconds since 1970.
    public let quarantinedAt: Double
    /// Unclean exits of the daemon while the request was being processed.
    public let uncleanExits: Int
}

public struct QueuedMessage: Sendable, Equatable {
    public let seq: UInt64
    public let message: OutboundMessage
}

/// The spool file's record types. Tags are part of the on-disk format: never renumber.
enum SpoolRecord {
    case request(InboundRequest)
    case requestDone(seq: UInt64, at: Double)
    case outbound(QueuedMessage)
    /// Acknowledged by the broker, dropped at the bound, or replaced by a newer retained value.
    case outboundSettled(seq: UInt64)
    /// A finished request's key, kept through compaction for deduplication.
    case seen(key: String, at: Double)
    case counters(requestSeq: UInt64, outboundSeq: UInt64)
    /// The request is being processed (dispatched, synthesised, playing) from here on.
    case attempt(seq: UInt64)
    /// It is no longer being processed (waiting in a speaker's queue) though not finished.
    case attemptEnded(seq: UInt64)
    /// A daemon process opened the journal: attempts still open here ended with an unclean exit.
    case runStarted
    /// A clean stop: attempts still open here ended without a crash.
    case cleanStop
    /// Carries a pending request's count of unclean exits through compaction.
    case uncleanExits(seq: UInt64, count: Int)
    /// The request became a dead letter (see `DeadLetter`).
    case quarantined(seq: UInt64, at: Double, uncleanExits: Int)
    /// A dead letter was dropped by an operator (or re-queued under a new sequence number).
    case deadLetterRemoved(seq: UInt64, at: Double)

    func encoded() -> [UInt8] {
        var w = ByteWriter(capacity: 64)
        switch self {
        case .request(let r):
            w.u8(1); w.u64(r.seq); w.string(r.key); w.string(r.topic); w.blob(r.payload)
            w.optionalString(r.responseTopic); w.optionalBlob(r.correlationData); w.f64(r.receivedAt)
        case .requestDone(let seq, let at):
            w.u8(2); w.u64(seq); w.f64(at)
        case .outbound(let q):
            w.u8(3); w.u64(q.seq); w.string(q.message.topic); w.blob(q.message.payload)
            w.u8(q.message.retain ? 1 : 0); w.optionalBlob(q.message.correlationData)
        case .outboundSettled(let seq):
            w.u8(4); w.u64(seq)
        case .seen(let key, let at):
            w.u8(5); w.string(key); w.f64(at)
        case .counters(let a, let b):
            w.u8(6); w.u64(a); w.u64(b)
        case .attempt(let seq):
            w.u8(7); w.u64(seq)
        case .attemptEnded(let seq):
            w.u8(8); w.u64(seq)
        case .runStarted:
            w.u8(9)
        case .cleanStop:
            w.u8(10)
        case .uncleanExits(let seq, let count):
            w.u8(11); w.u64(seq); w.u64(UInt64(count))
        case .quarantined(let seq, let at, let exits):
            w.u8(12); w.u64(seq); w.f64(at); w.u64(UInt64(exits))
        case .deadLetterRemoved(let seq, let at):
            w.u8(13); w.u64(seq); w.f64(at)
        }
        return w.bytes
    }

    /// For log lines.
    var name: String {
        switch self {
        case .request: "a request"
        case .requestDone: "a finished request"
        case .outbound: "an outbound message"
        case .outboundSettled: "an acknowledgement"
        case .seen: "a remembered key"
        case .counters: "the counters"
        case .attempt: "an attempt"
        case .attemptEnded: "the end of an attempt"
        case .runStarted: "a start"
        case .cleanStop: "a clean stop"
        case .uncleanExits: "a count of unclean exits"
        case .quarantined: "a quarantine"
        case .deadLetterRemoved: "a dead letter's removal"
        }
    }

    struct UnknownTag: Error { let tag: UInt8 }

    static func decode(_ bytes: ArraySlice<UInt8>) throws -> SpoolRecord {
        var r = ByteReader(bytes)
        switch try r.u8() {
        case 1:
            return .request(InboundRequest(
                seq: try r.u64(), key: try r.string(), topic: try r.string(), payload: try r.blob(),
                responseTopic: try r.optionalString(), correlationData: try r.optionalBlob(),
                receivedAt: try r.f64()))
        case 2: return .requestDone(seq: try r.u64(), at: try r.f64())
        case 3:
            let seq = try r.u64()
            let message = OutboundMessage(topic: try r.string(), payload: try r.blob(),
                                          retain: try r.u8() == 1, correlationData: try r.optionalBlob())
            return .outbound(QueuedMessage(seq: seq, message: message))
        case 4: return .outboundSettled(seq: try r.u64())
        case 5: return .seen(key: try r.string(), at: try r.f64())
        case 6: return .counters(requestSeq: try r.u64(), outboundSeq: try r.u64())
        case 7: return .attempt(seq: try r.u64())
        case 8: return .attemptEnded(seq: try r.u64())
        case 9: return .runStarted
        case 10: return .cleanStop
        case 11: return .uncleanExits(seq: try r.u64(), count: Int(clamping: try r.u64()))
        case 12: return .quarantined(seq: try r.u64(), at: try r.f64(), uncleanExits: Int(clamping: try r.u64()))
        case 13: return .deadLetterRemoved(seq: try r.u64(), at: try r.f64())
        case let tag: throw UnknownTag(tag: tag)
        }
    }
}
