import Foundation

/// `<base>/bridge/request/health`: the session, the journal, the outbound queue and the plugins at
/// a glance. `speakerbridge health` turns `data.healthy` into its exit code. `status` tells a
/// daemon that cannot relay (`unhealthy`: the session) from one whose plugins misbehave
/// (`degraded`: a plugin hung, restarting after a crash, or down); either is not healthy.
/// `broker` is the one in use (or being tried), `brokers` the list in order, `failover` the last move.
public struct HealthHandler: BridgeRequestHandler {
    public let name = "health"
    public let isSlow = false
    let config: Configuration
    let status: SessionStatusBox
    let spool: Spool
    let broker: EmbeddedBrokerStatusBox?
    let startedAt: Date
    /// Asked for its plugins' problems (none without plugins).
    let plugins: PluginRegistry?

    public init(config: Configuration, status: SessionStatusBox, spool: Spool, broker: EmbeddedBrokerStatusBox?, startedAt: Date,
                plugins: PluginRegistry? = nil) {
        self.plugins = plugins
        self.config = config
        self.status = status
        self.spool = spool
        self.broker = broker
        self.startedAt = startedAt
    }

    public func handle(_ request: BridgeRequest) async throws(BridgeRequestError) -> JSONValue {
        let s = status.current
        let q = spool.stats
        var lastDisconnect: JSONValue = .null
        if let d = s.lastDisconnect {
            lastDisconnect = ["code": .number(Double(d.code)), "name": .string(d.name), "reason": .string(d.explanation),
                              "at": s.lastDisconnectAt.map { .timestamp($0) } ?? .null]
        }
        let sessionProblems = s.healthProblems
        let pluginProblems = plugins?.healthProblems ?? []
        let problems = sessionProblems + pluginProblems
        var o: [String: JSONValue] = [
            "healthy": .bool(problems.isEmpty),
            "status": .string(!sessionProblems.isEmpty ? "unhealthy" : !pluginProblems.isEmpty ? "degraded" : "healthy"),
            "problems": .array(problems.map { .string($0) }),
            "connected": .bool(s.connected),
            "since": .timestamp(s.since),
            "uptime_s": .number((Date().timeIntervalSince(startedAt) * 10).rounded() / 10),
            "reconnects": .number(Double(s.reconnects)),
            "connect_attempts": .number(Double(s.connectAttempts)),
            "last_disconnect": lastDisconnect,
            "disconnects": .object(s.disconnects.mapValues { .number(Double($0)) }),
            "session_resumed": .bool(s.sessionResumed),
            "twin": .bool(s.twinSuspected),
            "client_id": .string(s.clientID),
            "broker": .string(s.broker),
            "brokers": .array((s.brokers.isEmpty ? config.brokerList.map(\.description) : s.brokers).map { .string($0) }),
            // What the broker took on this connection (with mqtt.protocol auto, 3.1.1 after a refusal).
            "mqtt_protocol": s.connected ? .string(s.protocolVersion.rawValue) : .null,
            "failover": s.lastFailover.map(Self.failoverJSON) ?? .null,
            "journal": [
                "pending": .number(Double(q.pendingRequests)),
                "recorded_total": .number(Double(q.recordedTotal)),
                "duplicates_total": .number(Double(q.duplicatesTotal)),
                "quarantined": .number(Double(q.quarantined)),
                "quarantined_total": .number(Double(q.quarantinedTotal)),
                "durability": .string(config.journal.durability.rawValue),
            ],
            "outbound": [
                "pending": .number(Double(q.outboundPending)),
                "dropped_total": .number(Double(q.droppedTotal)),
                "coalesced_total": .number(Double(q.coalescedTotal)),
                "max": .number(Double(config.outbound.maxMessages)),
            ],
        ]
        if let warning = s.twinWarning { o["warning"] = .string(warning) }
        if let b = broker?.current {
            o["embedded_broker"] = ["running": .bool(b.running), "restarts": .number(Double(b.restarts)),
                                    "last_error": .optional(b.lastError)]
        }
        return .object(o)
    }

    /// The last move from one broker of `mqtt.brokers` to another, and why (health and the status page).
    static func failoverJSON(_ f: SessionStatus.Failover) -> JSONValue {
        ["from": .string(f.from), "to": .string(f.to), "reason": .string(f.reason), "at": .timestamp(f.at)]
    }
}
