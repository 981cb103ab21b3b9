import Foundation

/// What `speakerbridge soak` prints at the end, as text or JSON. The verdict: nothing lost, nothing
/// duplicated, and something actually reached the daemon.
public struct SoakReport: Sendable, Equatable {
    public var seconds = 0.0
    public var rate = 0.0
    public var sent = 0
    public var sentQoS0 = 0
    public var sentQoS1 = 0
    public var sentWithID = 0
    /// Not published because our own connection to the broker was down at that moment.
    public var notSent = 0
    public var accepted = 0
    public var unacknowledged = 0
    public var done = 0
    public var failed = 0
    public var failedByReason: [String: Int] = [:]
    public var lost = 0
    public var lostIDs: [String] = []
    public var duplicated = 0
    public var qos0NotDelivered = 0
    public var foreignEvents = 0
    /// Live `online` states on bridge/state: one per daemon connect.
    public var onlineEvents = 0
    /// The daemon's own `reconnects`, summed over its processes.
    public var reconnects = 0
    public var daemonProcesses = 0
    public var disconnects: [String: Int] = [:]
    public var brokerRestarts = 0
    public var daemonKills = 0
    public var latencyP50: Double? = nil
    public var latencyP99: Double? = nil
    public var latencySamples = 0

    public init() {}

    public var passed: Bool { lost == 0 && duplicated == 0 && accepted > 0 }

    public var verdict: String {
        if lost > 0 || duplicated > 0 {
            var parts: [String] = []
            if lost > 0 { parts.append("\(lost) lost" + (lostIDs.isEmpty ? "" : " (ids: " + lostIDList + ")")) }
            if duplicated > 0 { parts.append("\(duplicated) duplicated") }
            return "FAIL: " + parts.joined(separator: ", ")
        }
        if accepted == 0 { return "FAIL: no announcement reached the daemon" }
        return "PASS: nothing lost, nothing duplicated"
    }

    private var lostIDList: String {
        lostIDs.prefix(10).joined(separator: ", ") + (lostIDs.count > 10 ? ", …" : "")
    }

    static func percentile(_ sorted: [Double], _ p: Double) -> Double? {
        guard !sorted.isEmpty else { return nil }
        let index = Int((Double(sorted.count - 1) * p).rounded(.up))
        return sorted[min(sorted.count - 1, index)]
    }

    /// libmosquitto return codes worth naming beside their symbol.
    static let codes = ["MOSQ_ERR_CONN_LOST": 7, "MOSQ_ERR_KEEPALIVE": 19, "MOSQ_ERR_PROTOCOL": 2, "MOSQ_ERR_TLS": 8,
                        "MOSQ_ERR_ERRNO": 14, "MOSQ_ERR_NO_CONN": 4, "MOSQ_ERR_SUCCESS": 0]

    private static func ms(_ s: Double?) -> String {
        guard let s else { return "-" }
        return String(format: "%.0f ms", s * 1000)
    }

    public var text: String {
        let reasons = failedByReason.sorted { $0.value > $1.value || ($0.value == $1.value && $0.key < $1.key) }
            .map { "\($0.value)× \($0.key)" }
        let rc = disconnects.sorted { $0.key < $1.key }
            .map { name, n in "\(name)" + (SoakReport.codes[name].map { " (rc \($0))" } ?? "") + ": \(n)" }
        let soak: String = String(format: "%.0f s at %g/s, %d broker restart(s), %d daemon kill(s)", seconds, rate, brokerRestarts, daemonKills)
        let failedText: String = "\(failed)" + (reasons.isEmpty ? "" : ": " + reasons.joined(separator: "; "))
        let lostText: String = "\(lost)" + (lostIDs.isEmpty ? "" : " (ids: " + lostIDList + ")")
        let latency: String = "p50 " + SoakReport.ms(latencyP50) + ", p99 " + SoakReport.ms(latencyP99)
            + " (publish -> final event, \(latencySamples) announcements with an id)"
        var lines: [(String, String)] = []
        lines.append(("soak", soak))
        lines.append(("sent", "\(sent) (QoS 0: \(sentQoS0), QoS 1: \(sentQoS1); with id: \(sentWithID), without: \(sent - sentWithID))"))
        lines.append(("not sent", "\(notSent) QoS 0 (our broker connection was down)"))
        lines.append(("accepted", "\(accepted) (QoS 1 acknowledged by the broker; QoS 0 while the daemon was online)"))
        lines.append(("done", "\(done)"))
        lines.append(("failed", failedText))
        lines.append(("lost", lostText))
        lines.append(("duplicated", "\(duplicated)"))
        lines.append(("qos0 offline", "\(qos0NotDelivered) QoS 0 not delivered (daemon offline; not a failure)"))
        lines.append(("unacknowledged", "\(unacknowledged) QoS 1 never acknowledged by the broker (not accepted; not a failure)"))
        lines.append(("reconnects", "\(reconnects) (daemon's health, over \(daemonProcesses) process(es)); \(onlineEvents) online event(s) on bridge/state"))
        lines.append(("disconnects", rc.isEmpty ? "none" : rc.joined(separator: ", ")))
        lines.append(("latency", latency))
        if foreignEvents > 0 { lines.append(("foreign", "\(foreignEvents) final event(s) for ids this soak did not send (ignored)")) }
        lines.append(("verdict", verdict))
        return lines.map { $0.0.padding(toLength: 15, withPad: " ", startingAt: 0) + $0.1 }.joined(separator: "\n")
    }

    public var json: JSONValue {
        func n(_ v: Int) -> JSONValue { .number(Double(v)) }
        func counts(_ d: [String: Int]) -> JSONValue { .object(d.mapValues { .number(Double($0)) }) }
        return [
            "passed": .bool(passed), "verdict": .string(verdict),
            "seconds": .number(seconds), "rate": .number(rate),
            "sent": n(sent), "sent_qos0": n(sentQoS0), "sent_qos1": n(sentQoS1), "sent_with_id": n(sentWithID),
            "not_sent": n(notSent), "accepted": n(accepted), "unacknowledged": n(unacknowledged),
            "done": n(done), "failed": n(failed), "failed_by_reason": counts(failedByReason),
            "lost": n(lost), "lost_ids": .array(lostIDs.map { .string($0) }), "duplicated": n(duplicated),
            "qos0_not_delivered": n(qos0NotDelivered), "foreign_events": n(foreignEvents),
            "online_events": n(onlineEvents), "reconnects": n(reconnects), "daemon_processes": n(daemonProcesses),
            "disconnects": counts(disconnects), "broker_restarts": n(brokerRestarts), "daemon_kills": n(daemonKills),
            "latency_ms": ["p50": latencyP50.map { .number(($0 * 1000).rounded()) } ?? .null,
                           "p99": latencyP99.map { .number(($0 * 1000).rounded()) } ?? .null,
                           "samples": n(latencySamples)],
        ]
    }
}
