import Foundation

/// A request as it arrived from the broker, recorded before it was acknowledged.
public struct InboundRequest: Sendable, Equatable {
    public let seq: UInt64
    /// The idempotency key: the request's own `id`/`transaction`, or one derived from the MQTT
    /// message (see `RequestKey`). The same key is processed once.
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
        }
        return w.bytes
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
        case let tag: throw UnknownTag(tag: tag)
        }
    }
}
