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
    /// Dead letters now (requests quarantined after crashing the daemon, kept until retried or dropped).
    public var quarantined = 0
    public var quarantinedTotal: UInt64 = 0
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
        /// Requests being processed according to the file (an `attempt` without its end).
        var openAttempts: Set<UInt64> = []
        /// How many parts of this process work on a request now (dispatch, synthesis, each speaker).
        var attemptHolders: [UInt64: Int] = [:]
        /// Per pending request: how often the daemon died while it was being processed.
        var uncleanExits: [UInt64: Int] = [:]
        var deadLetters: [UInt64: DeadLetter] = [:]
        var compactAt = Spool.minimumCompactionSize
        var lastDropWarning = 0.0
        /// Sees the outbound messages of every successful commit (the status page's live feed).
        var outboundObserver: (@Sendable ([OutboundMessage]) -> Void)?
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
        // `runStarted` closes the previous process's open attempts as unclean exits; it is applied
        // after the replay too, since this start is the boundary for the process that wrote last.
        for record in replayed + [.runStarted] { Spool.apply(record, to: &s, now: now, window: dedupWindow) }
        do {
            try s.file.append([SpoolRecord.runStarted.encoded()], durability: .process)
        } catch {
            // A full disk must not keep the daemon from starting; without this marker the next
            // start may count one unclean exit too few, never one too many.
            logger.error("spool: cannot record this start (attempt counting is approximate until it can): \(error)")
        }
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
    /// A nil key (QoS 0 without an id) is never a repeat.
    public func recordRequest(
        key: String?, topic: String, payload: [UInt8], responseTopic: String?, correlationData: [UInt8]?
    ) throws -> UInt64? {
        try state.withLock { s in
            if let key, s.keysInFlight.contains(key) || s.seen[key] != nil {
                s.stats.duplicatesTotal += 1
                return nil
            }
            let request = InboundRequest(
                seq: s.requestSeq + 1, key: key ?? "", topic: topic, payload: payload, responseTopic: responseTopic,
                correlationData: correlationData, receivedAt: Date().timeIntervalSince1970)
            try s.file.append([SpoolRecord.request(request).encoded()], durability: durability)
            Spool.apply(.request(request), to: &s, now: request.receivedAt, window: dedupWindow)
            s.stats.recordedTotal += 1
            return request.seq
        }
    }

    /// Unfinished requests now (the bound `journal.max_pending` is checked against it).
    public var pendingCount: Int { state.withLock { $0.requests.count } }

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

    /// Marks a request done and queues what it produced, in one write. With `next`, the same write
    /// begins that request's attempt (as `beginAttempt` would); returns whether it did.
    @discardableResult
    public func complete(_ seq: UInt64, publishing messages: [OutboundMessage], beginning next: UInt64? = nil) throws -> Bool {
        let begun = try state.withLock { s -> Bool in
            guard s.requests[seq] != nil else { return false }
            s.attemptHolders[seq] = nil
            let now = Date().timeIntervalSince1970
            var records: [SpoolRecord] = [.requestDone(seq: seq, at: now)]
            for m in messages {
                s.outboundSeq += 1
                records.append(.outbound(QueuedMessage(seq: s.outboundSeq, message: m)))
            }
            let begins = next.map { s.requests[$0] != nil && s.attemptHolders[$0] == nil && !s.openAttempts.contains($0) } ?? false
            if begins, let next { records.append(.attempt(seq: next)) }
            try commit(records, to: &s, now: now)
            if begins, let next { s.attemptHolders[next] = 1 }
            return begins
        }
        if !messages.isEmpty { outboundAvailable() }
        return begun
    }

    // MARK: attempts and dead letters

    /// Something starts working on the request (the router dispatching it, its speech synthesis, a
    /// speaker playing it). The first holder writes an `attempt` record, so a crash from here on
    /// counts against this request. One write(2), never synced: only a crash has to be survived.
    public func beginAttempt(_ seq: UInt64) {
        state.withLock { s in
            guard s.requests[seq] != nil else { return }
            s.attemptHolders[seq, default: 0] += 1
            guard s.attemptHolders[seq] == 1, !s.openAttempts.contains(seq) else { return }
            appendQuietly(.attempt(seq: seq), to: &s)
        }
    }

    /// The holder is done with the request; when the last one is, the attempt ends (the request
    /// waits, e.g. in a speaker's queue, and a crash now is not its fault).
    public func endAttempt(_ seq: UInt64) {
        state.withLock { s in
            guard let holders = s.attemptHolders[seq] else { return }
            guard holders <= 1 else { s.attemptHolders[seq] = holders - 1; return }
            s.attemptHolders[seq] = nil
            guard s.requests[seq] != nil, s.openAttempts.contains(seq) else { return }
            appendQuietly(.attemptEnded(seq: seq), to: &s)
        }
    }

    /// How often the daemon died while this pending request was being processed.
    public func uncleanExits(of seq: UInt64) -> Int {
        state.withLock { $0.uncleanExits[seq] ?? 0 }
    }

    /// The daemon stops cleanly: what is being processed now was not the cause of a crash.
    public func recordCleanStop() {
        state.withLock { s in
            s.attemptHolders.removeAll()
            appendQuietly(.cleanStop, to: &s)
        }
    }

    /// Moves a pending request to the dead letters and queues its answer, in one write.
    public func quarantine(_ seq: UInt64, publishing messages: [OutboundMessage]) throws {
        try state.withLock { s in
            guard s.requests[seq] != nil else { return }
            let now = Date().timeIntervalSince1970
            var records: [SpoolRecord] = [.quarantined(seq: seq, at: now, uncleanExits: s.uncleanExits[seq] ?? 0)]
            for m in messages {
                s.outboundSeq += 1
                records.append(.outbound(QueuedMessage(seq: s.outboundSeq, message: m)))
            }
            s.attemptHolders[seq] = nil
            try commit(records, to: &s, now: now)
            s.stats.quarantinedTotal += 1
        }
        if !messages.isEmpty { outboundAvailable() }
    }

    /// The dead letters, oldest first.
    public var deadLetters: [DeadLetter] {
        state.withLock { s in s.deadLetters.values.sorted { $0.request.seq < $1.request.seq } }
    }

    /// Forgets a dead letter; its key counts as handled for the dedup window. False if unknown.
    public func dropDeadLetter(_ seq: UInt64) throws -> Bool {
        try state.withLock { s in
            guard s.deadLetters[seq] != nil else { return false }
            let now = Date().timeIntervalSince1970
            try commit([.deadLetterRemoved(seq: seq, at: now)], to: &s, now: now)
            return true
        }
    }

    /// Puts a dead letter back into the journal as a new request (a new sequence number, so the
    /// router takes it up again, with its attempts counted from zero). Returns the new request.
    public func retryDeadLetter(_ seq: UInt64) throws -> InboundRequest? {
        try state.withLock { s in
            guard let letter = s.deadLetters[seq] else { return nil }
            let old = letter.request
            let now = Date().timeIntervalSince1970
            let request = InboundRequest(seq: s.requestSeq + 1, key: old.key, topic: old.topic, payload: old.payload,
                                         responseTopic: old.responseTopic, correlationData: old.correlationData,
                                         receivedAt: now)
            try commit([.deadLetterRemoved(seq: seq, at: now), .request(request)], to: &s, now: now)
            // A retried key is in flight again; it is not "seen" until the new request finishes.
            if !request.key.isEmpty { s.seen[request.key] = nil }
            return request
        }
    }

    // MARK: outbound

    /// `observer` sees every outbound message once it is recorded, in journal order (the status
    /// page's live feed). It is called with the journal's lock held: it must only hand them on.
    /// Called under the lock so that two commits on different threads reach it in the order they
    /// were written; a message whose write failed is never seen.
    public func observeOutbound(_ observer: @escaping @Sendable ([OutboundMessage]) -> Void) {
        state.withLock { $0.outboundObserver = observer }
    }

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
            stats.quarantined = s.deadLetters.count
            return stats
        }
    }

    // MARK: internals

    private func commit(_ records: [SpoolRecord], to s: inout State, now: Double) throws {
        // Coalescing and the bound add their own "settled" records to the same write. Nothing in
        // memory changes before the write succeeded: a full disk must leave the state as it was.
        var all = records
        var settling: Set<UInt64> = []
        var newestRetained: [String: UInt64] = [:]
        var coalesced: UInt64 = 0
        var added = 0
        for record in records {
            guard case .outbound(let q) = record else { continue }
            added += 1
            guard q.message.retain else { continue }
            if let older = newestRetained[q.message.topic] ?? s.retainedByTopic[q.message.topic], settling.insert(older).inserted {
                all.append(.outboundSettled(seq: older))
                coalesced += 1
            }
            newestRetained[q.message.topic] = q.seq
        }
        var excess = s.outbound.count + added - settling.count - maxOutbound
        var dropped: UInt64 = 0
        var i = s.outboundHead
        while excess > 0, i < s.outboundOrder.count {
            let seq = s.outboundOrder[i]
            if let q = s.outbound[seq], !q.message.retain, !settling.contains(seq) {
                all.append(.outboundSettled(seq: seq))
                dropped += 1
                excess -= 1
            }
            i += 1
        }
        try s.file.append(all.map { $0.encoded() }, durability: durability)
        for record in all { Spool.apply(record, to: &s, now: now, window: dedupWindow) }
        if added > 0, let observer = s.outboundObserver {
            observer(records.compactMap { if case .outbound(let q) = $0 { q.message } else { nil } })
        }
        s.stats.coalescedTotal += coalesced
        s.stats.droppedTotal += dropped
        if dropped > 0, now - s.lastDropWarning > 10 {
            s.lastDropWarning = now
            logger.warning("outbound queue full (\(maxOutbound) messages): dropped the oldest events, \(s.stats.droppedTotal) so far; raise outbound.max_messages or restore the broker connection")
        }
        if s.file.size > s.compactAt { compact(&s, now: now) }
    }

    /// For bookkeeping records whose loss costs little (an attempt count), where a failed write
    /// must not fail the request itself.
    private func appendQuietly(_ record: SpoolRecord, to s: inout State) {
        do {
            try s.file.append([record.encoded()], durability: .process)
            Spool.apply(record, to: &s, now: Date().timeIntervalSince1970, window: dedupWindow)
        } catch {
            logger.error("spool: cannot record \(record.name): \(error)")
        }
    }

    private static func removePending(_ seq: UInt64, from s: inout State) -> InboundRequest? {
        guard let r = s.requests.removeValue(forKey: seq) else { return nil }
        if s.requestOrder.first == seq { s.requestOrder.removeFirst() }
        else if let i = s.requestOrder.firstIndex(of: seq) { s.requestOrder.remove(at: i) }
        s.openAttempts.remove(seq)
        s.uncleanExits[seq] = nil
        return r
    }

    private static func apply(_ record: SpoolRecord, to s: inout State, now: Double, window: Double) {
        switch record {
        case .request(let r):
            s.requests[r.seq] = r
            s.requestOrder.append(r.seq)
            if !r.key.isEmpty { s.keysInFlight.insert(r.key) }
            s.requestSeq = max(s.requestSeq, r.seq)
        case .requestDone(let seq, let at):
            guard let r = removePending(seq, from: &s) else { return }
            s.keysInFlight.remove(r.key)
            remember(r.key, at: at, in: &s, now: now, window: window)
        case .attempt(let seq):
            if s.requests[seq] != nil { s.openAttempts.insert(seq) }
        case .attemptEnded(let seq):
            s.openAttempts.remove(seq)
        case .runStarted:
            for seq in s.openAttempts where s.requests[seq] != nil { s.uncleanExits[seq, default: 0] += 1 }
            s.openAttempts.removeAll()
        case .cleanStop:
            s.openAttempts.removeAll()
        case .uncleanExits(let seq, let count):
            if s.requests[seq] != nil { s.uncleanExits[seq] = count }
        case .quarantined(let seq, let at, let exits):
            // The key stays in flight: the same poison sent again is not run again.
            guard let r = removePending(seq, from: &s) else { return }
            s.deadLetters[seq] = DeadLetter(request: r, quarantinedAt: at, uncleanExits: exits)
        case .deadLetterRemoved(let seq, let at):
            guard let letter = s.deadLetters.removeValue(forKey: seq) else { return }
            s.keysInFlight.remove(letter.request.key)
            remember(letter.request.key, at: at, in: &s, now: now, window: window)
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
        guard !key.isEmpty else { return }
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

    /// Compacts now instead of at the size threshold (the tests prove what survives a compaction).
    func compactNow() {
        state.withLock { s in compact(&s, now: Date().timeIntervalSince1970) }
    }

    /// Rewrites the file with only what is still live: pending requests, remembered keys, unsent messages.
    private func compact(_ s: inout State, now: Double) {
        var records: [SpoolRecord] = [.counters(requestSeq: s.requestSeq, outboundSeq: s.outboundSeq)]
        for (key, at) in s.seenOrder[s.seenHead...] where s.seen[key] == at { records.append(.seen(key: key, at: at)) }
        for seq in s.requestOrder {
            guard let r = s.requests[seq] else { continue }
            records.append(.request(r))
            if let exits = s.uncleanExits[seq] { records.append(.uncleanExits(seq: seq, count: exits)) }
            if s.openAttempts.contains(seq) { records.append(.attempt(seq: seq)) }
        }
        for letter in s.deadLetters.values.sorted(by: { $0.request.seq < $1.request.seq }) {
            records.append(.request(letter.request))
            records.append(.quarantined(seq: letter.request.seq, at: letter.quarantinedAt, uncleanExits: letter.uncleanExits))
        }
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
