import Foundation

/// The bookkeeping of `speakerbridge soak`: what was published, what the broker accepted, what the
/// daemon finished, and whether the daemon could have heard a QoS 0 message. Pure: every input
/// carries its time (seconds since the soak began), so the rules are unit-testable.
///
/// The rules (also in the README's "Soak test"):
/// - An announcement is **accepted** when the broker took responsibility for it: a QoS 1 one once
///   its PUBACK arrived; a QoS 0 one when it was published while the daemon was online (a live
///   `online` on `bridge/state` seen, no `offline` since, and our own connection up) and stayed so
///   for `qos0Grace` seconds afterwards (a Will or a dropped connection arrives that late at worst).
///   Any other QoS 0 one is "qos0 not delivered (daemon offline)" when it never finished: QoS 0 to
///   an absent subscriber is lost by design, not by the daemon.
/// - Announcements **with an id** are matched exactly: an accepted id without a final event (`done`
///   or `failed`) is lost; an id with two different final events (events carry their time, so a
///   redelivered copy of one event is byte-identical and counts once) is duplicated.
/// - Events do not carry the text, so announcements **without an id** can only be counted: lost =
///   accepted ones minus their final events (when positive); duplicated = final events beyond every
///   one that could have been delivered (accepted, offline QoS 0 and unacknowledged QoS 1).
public struct SoakLedger: Sendable {
    public struct Publication: Sendable, Equatable {
        public let id: String?
        public let qos: Int
        public let at: Double
        /// The daemon looked online when this was published.
        public let daemonOnline: Bool
        public var acknowledged = false
    }

    public let qos0Grace: Double
    public private(set) var publications: [Int: Publication] = [:]
    public private(set) var notSent = 0
    public private(set) var daemonOnline = false
    /// Moments the daemon stopped looking online (an `offline` state, or our own connection lost).
    public private(set) var awayTimes: [Double] = []
    /// Live `online` states: one per daemon connect (first start, reconnects, restarts).
    public private(set) var onlineEvents = 0
    private var ourConnectionUp = false
    private var sawFirstConnection = false

    /// Distinct final event payloads by announcement id, with the time the first one arrived.
    private var finalsByID: [String: Set<[UInt8]>] = [:]
    private var firstFinalAt: [String: Double] = [:]
    private var idlessFinals: Set<[UInt8]> = []
    private var seqByID: [String: Int] = [:]
    public private(set) var failedReasons: [String: Int] = [:]
    public private(set) var doneEvents = 0
    public private(set) var failedEvents = 0
    /// Final events naming an id this soak never sent (another client on the same daemon).
    public private(set) var foreignEvents = 0

    public init(qos0Grace: Double = 2) {
        self.qos0Grace = qos0Grace
    }

    // MARK: inputs

    public mutating func connection(up: Bool, at: Double) {
        if !up && ourConnectionUp { markAway(at) }
        ourConnectionUp = up
    }

    /// A message on `<base>/bridge/state`. A retained `online` is trusted only on our very first
    /// connection (the daemon was running before we came); after a reconnect of ours only a live
    /// one proves the daemon is back, because the retained value may predate a crash.
    public mutating func bridgeState(_ payload: [UInt8], retained: Bool, at: Double) {
        guard let json = try? JSONValue.parse(payload), let state = json["state"]?.stringValue else { return }
        if state == "online" {
            if !retained { onlineEvents += 1 }
            if !retained || !sawFirstConnection { daemonOnline = ourConnectionUp }
        } else {
            markAway(at)
        }
    }

    /// A bridge request (health) was answered: the daemon is connected and subscribed right now.
    public mutating func daemonAnswered(at: Double) {
        if ourConnectionUp { daemonOnline = true }
    }

    /// Our first connection's retained messages have been read; from now on retained ones are stale.
    public mutating func firstConnectionSettled() { sawFirstConnection = true }

    public mutating func published(seq: Int, id: String?, qos: Int, at: Double) {
        publications[seq] = Publication(id: id, qos: qos, at: at, daemonOnline: daemonOnline && ourConnectionUp)
        if let id { seqByID[id] = seq }
    }

    public mutating func skipped() { notSent += 1 }

    public mutating func acknowledged(seq: Int) { publications[seq]?.acknowledged = true }

    /// A message on `<base>/bridge/event/announcement`; only final events count.
    public mutating func event(_ payload: [UInt8], at: Double) {
        guard let json = try? JSONValue.parse(payload), let state = json["state"]?.stringValue,
              state == "done" || state == "failed" else { return }
        let id = json["id"]?.stringValue
        if let id {
            guard seqByID[id] != nil else { foreignEvents += 1; return }
            guard finalsByID[id, default: []].insert(payload).inserted else { return }
            if firstFinalAt[id] == nil { firstFinalAt[id] = at }
        } else {
            guard idlessFinals.insert(payload).inserted else { return }
        }
        if state == "done" {
            doneEvents += 1
        } else {
            failedEvents += 1
            failedReasons[json["reason"]?.stringValue ?? "(no reason)", default: 0] += 1
        }
    }

    private mutating func markAway(_ at: Double) {
        if daemonOnline { awayTimes.append(at) }
        daemonOnline = false
    }

    // MARK: verdicts

    public enum Acceptance: Sendable, Equatable { case accepted, qos0Offline, unacknowledged }

    public func acceptance(_ p: Publication) -> Acceptance {
        if p.qos > 0 { return p.acknowledged ? .accepted : .unacknowledged }
        guard p.daemonOnline else { return .qos0Offline }
        let wentAwaySoonAfter = awayTimes.contains { $0 >= p.at && $0 <= p.at + qos0Grace }
        return wentAwaySoonAfter ? .qos0Offline : .accepted
    }

    /// Ids that are accepted and still have no final event (what a drain waits for).
    public var unfinishedIDs: Int {
        publications.values.filter { p in
            guard let id = p.id else { return false }
            return finalsByID[id] == nil && acceptance(p) == .accepted
        }.count
    }

    /// QoS 1 publications the broker has not acknowledged yet. A drain waits for them too: one sent
    /// while the soak's own connection was down goes out on its reconnect, and is accepted (and then
    /// awaited) only once its PUBACK is in.
    public var awaitingAcknowledgement: Int {
        publications.values.filter { $0.qos > 0 && !$0.acknowledged }.count
    }

    /// Accepted announcements without an id minus their final events, at least 0.
    public var unfinishedIdless: Int {
        let accepted = publications.values.filter { $0.id == nil && acceptance($0) == .accepted }.count
        return max(0, accepted - idlessFinals.count)
    }

    public func report() -> SoakReport {
        var r = SoakReport()
        var latencies: [Double] = []
        var idless = (accepted: 0, offline: 0, unacked: 0)
        for p in publications.values {
            r.sent += 1
            if p.qos == 0 { r.sentQoS0 += 1 } else { r.sentQoS1 += 1 }
            let acceptance = acceptance(p)
            if acceptance == .accepted { r.accepted += 1 }
            if acceptance == .unacknowledged { r.unacknowledged += 1 }
            guard let id = p.id else {
                switch acceptance {
                case .accepted: idless.accepted += 1
                case .qos0Offline: idless.offline += 1
                case .unacknowledged: idless.unacked += 1
                }
                continue
            }
            r.sentWithID += 1
            let finals = finalsByID[id]?.count ?? 0
            if finals > 1 { r.duplicated += finals - 1 }
            if let at = firstFinalAt[id] { latencies.append(at - p.at) }
            if finals == 0 {
                switch acceptance {
                case .accepted: r.lost += 1; r.lostIDs.append(id)
                case .qos0Offline: r.qos0NotDelivered += 1
                case .unacknowledged: break
                }
            }
        }
        let finals = idlessFinals.count
        r.lost += max(0, idless.accepted - finals)
        r.duplicated += max(0, finals - (idless.accepted + idless.offline + idless.unacked))
        r.qos0NotDelivered += min(idless.offline, max(0, idless.accepted + idless.offline - finals))
        r.lostIDs.sort()
        r.notSent = notSent
        r.done = doneEvents
        r.failed = failedEvents
        r.failedByReason = failedReasons
        r.foreignEvents = foreignEvents
        r.onlineEvents = onlineEvents
        latencies.sort()
        r.latencyP50 = SoakReport.percentile(latencies, 0.50)
        r.latencyP99 = SoakReport.percentile(latencies, 0.99)
        r.latencySamples = latencies.count
        return r
    }
}
