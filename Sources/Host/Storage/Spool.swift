import Foundation
import Logging
import Synchronization

/// Counters shown by the health request.
public struct SpoolStats: Sendable, Equatable {
    public var pendingRequests = 0
    public var recordedTotal: UInt64 = 0
    public var duplicatesTotal: UInt64 = 0
    public var outboundPending = 0
    public var droppedTotal: UInt64 = 0
    public var coalescedTotal: UInt64 = 0
}

/// The daemon's durable memory: the request journal and the outbound queue in one append-only file.
///
/// One file so that "request done" and "the events it produced" are written by a single write(2):
/// a crash cannot leave a request marked done without its answer, nor an answer queued twice.
/// Every method is thread-safe (libmosquitto's callback thread records, the router completes).
public final class Spool: Sendable {
    public typealias Durability = Configuration.Durability

    /// How long a key derived from the MQTT message (no `id` in the request) is remembered. Such keys
    /// only exist to catch a broker redelivery after we crashed between recording and PUBACK, which
    /// happens on the next connection; a longer window could swallow a genuinely new request that a
    /// restarted broker happens to give the same message id.
    static let derivedKeyWindow: Double = 120
    static let maxRememberedKeys = 200_000

    private struct State {
        var file: RecordFile
        var requests: [UInt64: InboundRequest] = [:]
        var requestOrder: [UInt64] = []
        var requestSeq: UInt64 = 0
        var keysInFlight: Set<String> = []
        var seen: [String: Double] = [:]
        var seenOrder: [(key: String, at: Double)] = []
        var seenHead = 0
        var outbound: [UInt64: QueuedMessage] = [:]
        var outboundOrder: [UInt64] = []
        var outboundHead = 0
        var outboundSeq: UInt64 = 0
        var retainedByTopic: [String: UInt64] = [:]
        var stats = SpoolStats()
        var compactAt = Spool.minimumCompactionSize
        var lastDropWarning = 0.0
    }

    static let minimumCompactionSize = 8 << 20

    private let state: Mutex<State>
    private let durability: RecordFile.Durability
    private let maxOutbound: Int
    private let dedupWindow: Double
    private let logger: Logger
    private let outboundAvailable: @Sendable () -> Void

    public let path: String

    public init(
        directory: String, durability: Durability, maxOutbound: Int, dedupWindow: Double,
        logger: Logger, outboundAvailable: @escaping @Sendable () -> Void = {}
    ) throws {
        path = directory + "/spool.log"
        self.durability = durability == .fsync ? .fsync : .process
        self.maxOutbound = maxOutbound
        self.dedupWindow = dedupWindow
        self.logger = logger
        self.outboundAvailable = outboundAvailable
        var replayed: [SpoolRecord] = []
        var undecodable = 0
        let file = try RecordFile(path: path) { bytes in
            do { replayed.append(try SpoolRecord.decode(bytes)) } catch { undecodable += 1 }
        }
        var s = State(file: file)
        let now = Date().timeIntervalSince1970
        for record in replayed { Spool.apply(record, to: &s, now: now, window: dedupWindow) }
        s.compactAt = max(Spool.minimumCompactionSize, file.size * 2)
        if undecodable > 0 {
            logger.warning("spool: skipped \(undecodable) records of an unknown type (written by a newer version?)")
        }
        state = Mutex(s)
        let stats = self.stats
        if stats.pendingRequests > 0 || stats.outboundPending > 0 {
            logger.notice("spool: resuming \(stats.pendingRequests) unfinished requests and \(stats.outboundPending) unsent messages from \(path)")
        }
    }

    // MARK: requests

    /// Records a request before it is acknowledged. Returns its sequence number, or nil when the key
    /// was already recorded (a redelivery or a repeated id): the caller acknowledges and drops it.
    public func recordRequest(
        key: String, topic: String, payload: [UInt8], responseTopic: String?, correlationData: [UInt8]?
    ) throws -> UInt64? {
        try state.withLock { s in
            if s.keysInFlight.contains(key) || s.seen[key] != nil {
                s.stats.duplicatesTotal += 1
                return nil
            }
            let request = InboundRequest(
                seq: s.requestSeq + 1, key: key, topic: topic, payload: payload, responseTopic: responseTopic,
                correlationData: correlationData, receivedAt: Date().timeIntervalSince1970)
            try s.file.append([SpoolRecord.request(request).encoded()], durability: durability)
            Spool.apply(.request(request), to: &s, now: request.receivedAt, window: dedupWindow)
            s.stats.recordedTotal += 1
            return request.seq
        }
    }

    /// Unfinished requests with a sequence number above `seq`, oldest first.
    public func pendingRequests(after seq: UInt64, limit: Int = 256) -> [InboundRequest] {
        state.withLock { s in
            var result: [InboundRequest] = []
            for id in s.requestOrder where id > seq {
                if let r = s.requests[id] { result.append(r) }
                if result.count == limit { break }
            }
            return result
        }
    }

    /// Marks a request done and queues what it produced, in one write.
    public func complete(_ seq: UInt64, publishing messages: [OutboundMessage]) throws {
        try state.withLock { s in
            guard s.requests[seq] != nil else { return }
            let now = Date().timeIntervalSince1970
            var records: [SpoolRecord] = [.requestDone(seq: seq, at: now)]
            for m in messages {
                s.outboundSeq += 1
                records.append(.outbound(QueuedMessage(seq: s.outboundSeq, message: m)))
            }
            try commit(records, to: &s, now: now)
        }
        if !messages.isEmpty { outboundAvailable() }
    }

    // MARK: outbound

    /// Queues messages that answer no request (events, state).
    public func publish(_ messages: [OutboundMessage]) throws {
        guard !messages.isEmpty else { return }
        try state.withLock { s in
            let records = messages.map { m -> SpoolRecord in
                s.outboundSeq += 1
                return .outbound(QueuedMessage(seq: s.outboundSeq, message: m))
            }
            try commit(records, to: &s, now: Date().timeIntervalSince1970)
        }
        outboundAvailable()
    }

    /// Queued messages with a sequence number above `seq`, in order.
    public func outbound(after seq: UInt64, limit: Int) -> [QueuedMessage] {
        state.withLock { s in
            var lo = s.outboundHead, hi = s.outboundOrder.count
            while lo < hi {
                let mid = (lo + hi) / 2
                if s.outboundOrder[mid] <= seq { lo = mid + 1 } else { hi = mid }
            }
            var result: [QueuedMessage] = []
            var i = lo
            while i < s.outboundOrder.count, result.count < limit {
                if let q = s.outbound[s.outboundOrder[i]] { result.append(q) }
                i += 1
            }
            return result
        }
    }

    /// The broker acknowledged the message. Losing this record only means sending it once more.
    public func settle(_ seqs: [UInt64]) {
        state.withLock { s in
            let live = seqs.filter { s.outbound[$0] != nil }
            guard !live.isEmpty else { return }
            let records = live.map { SpoolRecord.outboundSettled(seq: $0) }
            do {
                try s.file.append(records.map { $0.encoded() }, durability: .process)
            } catch {
                logger.error("spool: cannot record acknowledgements: \(error)")
            }
            for r in records { Spool.apply(r, to: &s, now: 0, window: dedupWindow) }
        }
    }

    public var stats: SpoolStats {
        state.withLock { s in
            var stats = s.stats
            stats.pendingRequests = s.requests.count
            stats.outboundPending = s.outbound.count
            return stats
        }
    }

    // MARK: internals

    private func commit(_ records: [SpoolRecord], to s: inout State, now: Double) throws {
        var all = records
        // Apply to a scratch copy of the bookkeeping first so coalescing and the bound can add their
        // own "settled" records to the same write.
        for record in records {
            guard case .outbound(let q) = record else { continue }
            if q.message.retain, let older = s.retainedByTopic[q.message.topic] {
                all.append(.outboundSettled(seq: older))
                s.stats.coalescedTotal += 1
                s.retainedByTopic[q.message.topic] = nil
                s.outbound[older] = nil
            }
            if q.message.retain { s.retainedByTopic[q.message.topic] = q.seq }
        }
        let queuedAfter = s.outbound.count + records.filter { if case .outbound = $0 { true } else { false } }.count
        var excess = queuedAfter - maxOutbound
        var i = s.outboundHead
        while excess > 0, i < s.outboundOrder.count {
            let seq = s.outboundOrder[i]
            if let q = s.outbound[seq], !q.message.retain {
                all.append(.outboundSettled(seq: seq))
                s.outbound[seq] = nil
                s.stats.droppedTotal += 1
                excess -= 1
            }
            i += 1
        }
        try s.file.append(all.map { $0.encoded() }, durability: durability)
        for record in all { Spool.apply(record, to: &s, now: now, window: dedupWindow) }
        if s.stats.droppedTotal > 0, now - s.lastDropWarning > 10 {
            s.lastDropWarning = now
            logger.warning("outbound queue full (\(maxOutbound) messages): dropped the oldest events, \(s.stats.droppedTotal) so far; raise outbound.max_messages or restore the broker connection")
        }
        if s.file.size > s.compactAt { compact(&s, now: now) }
    }

    private static func apply(_ record: SpoolRecord, to s: inout State, now: Double, window: Double) {
        switch record {
        case .request(let r):
            s.requests[r.seq] = r
            s.requestOrder.append(r.seq)
            s.keysInFlight.insert(r.key)
            s.requestSeq = max(s.requestSeq, r.seq)
        case .requestDone(let seq, let at):
            guard let r = s.requests.removeValue(forKey: seq) else { return }
            s.keysInFlight.remove(r.key)
            remember(r.key, at: at, in: &s, now: now, window: window)
            if s.requestOrder.first == seq { s.requestOrder.removeFirst() }
            else if let i = s.requestOrder.firstIndex(of: seq) { s.requestOrder.remove(at: i) }
        case .seen(let key, let at):
            remember(key, at: at, in: &s, now: now, window: window)
        case .outbound(let q):
            s.outbound[q.seq] = q
            s.outboundOrder.append(q.seq)
            s.outboundSeq = max(s.outboundSeq, q.seq)
            if q.message.retain {
                if let older = s.retainedByTopic[q.message.topic], older != q.seq { s.outbound[older] = nil }
                s.retainedByTopic[q.message.topic] = q.seq
            }
        case .outboundSettled(let seq):
            if let q = s.outbound.removeValue(forKey: seq), q.message.retain,
               s.retainedByTopic[q.message.topic] == seq {
                s.retainedByTopic[q.message.topic] = nil
            }
            while s.outboundHead < s.outboundOrder.count, s.outbound[s.outboundOrder[s.outboundHead]] == nil {
                s.outboundHead += 1
            }
            if s.outboundHead > 4096, s.outboundHead * 2 > s.outboundOrder.count {
                s.outboundOrder.removeFirst(s.outboundHead)
                s.outboundHead = 0
            }
        case .counters(let a, let b):
            s.requestSeq = max(s.requestSeq, a)
            s.outboundSeq = max(s.outboundSeq, b)
        }
    }

    private static func isDerived(_ key: String) -> Bool { key.hasPrefix("~") }

    private static func remember(_ key: String, at: Double, in s: inout State, now: Double, window: Double) {
        let keep = isDerived(key) ? derivedKeyWindow : window
        guard now - at < keep else { return }
        s.seen[key] = at
        s.seenOrder.append((key, at))
        // Forget the oldest keys by age and by count so memory stays bounded under any request rate.
        while s.seenHead < s.seenOrder.count {
            let (k, t) = s.seenOrder[s.seenHead]
            let limit = isDerived(k) ? derivedKeyWindow : window
            guard now - t >= limit || s.seen.count > maxRememberedKeys else { break }
            if s.seen[k] == t { s.seen[k] = nil }
            s.seenHead += 1
        }
        if s.seenHead > 4096, s.seenHead * 2 > s.seenOrder.count {
            s.seenOrder.removeFirst(s.seenHead)
            s.seenHead = 0
        }
    }

    /// Rewrites the file with only what is still live: pending requests, remembered keys, unsent messages.
    private func compact(_ s: inout State, now: Double) {
        var records: [SpoolRecord] = [.counters(requestSeq: s.requestSeq, outboundSeq: s.outboundSeq)]
        for (key, at) in s.seenOrder[s.seenHead...] where s.seen[key] == at { records.append(.seen(key: key, at: at)) }
        for seq in s.requestOrder { if let r = s.requests[seq] { records.append(.request(r)) } }
        for seq in s.outboundOrder[s.outboundHead...] { if let q = s.outbound[seq] { records.append(.outbound(q)) } }
        do {
            let before = s.file.size
            try s.file.rewrite(records.map { $0.encoded() })
            s.compactAt = max(Spool.minimumCompactionSize, s.file.size * 4)
            logger.debug("spool: compacted \(before) -> \(s.file.size) bytes")
        } catch {
            s.compactAt = s.file.size * 2
            logger.error("spool: compaction failed, keeping the long file: \(error)")
        }
    }
}
