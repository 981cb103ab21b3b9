import Foundation

/// Is the daemon running and connected, and did the broker resume its session (so requests sent
/// while it was away were kept) or start a new one, and why. Read from the daemon's `health`.
enum SessionCheck {
    static func check(_ config: Configuration, _ daemon: DaemonAnswers, lock: StateLock.Holder) -> DoctorCheck {
        let name = "session"
        guard let health = daemon.healthData else {
            var details: [String] = []
            if let notAsked = daemon.notAsked { details.append("not asked: \(notAsked)") }
            if let said = daemon.state?["state"]?.stringValue, said == "offline" {
                details.append("its last word on \(Topics(base: config.baseTopic).bridgeState) was offline (\(daemon.state?["reason"]?.stringValue ?? "no reason"))")
            }
            if case .heldBy(let pid) = lock, daemon.notAsked != nil {
                return .warn(name, "the daemon runs (process \(pid) holds the state directory's lock) but could not be asked",
                             details: details, fix: nil)
            }
            if case .heldBy(let pid) = lock {
                details.append("process \(pid) holds the state directory's lock, yet nothing answered: it is starting, hung, or uses another broker or base_topic")
                return .fail(name, "the daemon (process \(pid)) does not answer over MQTT", details: details,
                             fix: "read its log (journalctl -u speakerbridge, or its terminal); check that it runs with this configuration")
            }
            let summary = daemon.notAsked == nil
                ? "the daemon is not running (no answer on \(Topics(base: config.baseTopic).request("health")))"
                : "the daemon is not running here: nothing holds its state directory's lock"
            return .fail(name, summary, details: details, fix: "start it with this configuration: speakerbridge run [--config FILE]")
        }
        let clientID = health["client_id"]?.stringValue ?? "?"
        guard health["connected"] == .bool(true) else {
            let last = health["last_disconnect"]?["reason"]?.stringValue ?? "no reason recorded"
            return .fail(name, "the daemon runs but is not connected to the broker", details: ["last disconnect: \(last)"],
                         fix: "follow the reason above; the daemon keeps retrying on its own")
        }
        let reconnects = Int(health["reconnects"]?.numberValue ?? 0)
        let onBroker = whereConnected(health)
        if health["session_resumed"] == .bool(true) {
            return .ok(name, "connected; the broker resumed the session of client id \(clientID)",
                       details: ["requests sent while the daemon was away were kept for it"] + onBroker)
        }
        // Only MQTT 5 carries a Session Expiry; a 3.1.1 session lives as long as the broker keeps it.
        let spoke5 = health["mqtt_protocol"]?.stringValue.map { $0 == "5" } ?? (config.mqtt.protocolChoice != .v311)
        if spoke5 && config.mqtt.sessionExpiry == 0 {
            return .warn(name, "connected with a new session: mqtt.session_expiry is 0",
                         details: ["the broker drops the session at every disconnect, and with it requests sent meanwhile"] + onBroker,
                         fix: "set mqtt.session_expiry (default 604800 s, a week)")
        }
        if reconnects == 0 {
            return .ok(name, "connected; a new session for client id \(clientID) (this is the daemon's first connection since it started)",
                       details: ["the broker had none: first start of this installation, the session expired (mqtt.session_expiry \(config.mqtt.sessionExpiry) s), or the broker restarted without keeping sessions"] + onBroker)
        }
        return .warn(name, "connected, but the broker started a new session on a reconnect (\(reconnects) reconnects)",
                     details: ["the broker forgot the session: it restarted without persistence, or the session expired (mqtt.session_expiry \(config.mqtt.sessionExpiry) s)",
                               "requests sent while the daemon was disconnected were lost"] + onBroker,
                     fix: config.usesEmbeddedBroker ? "nothing to set on the embedded broker; see its restarts in speakerbridge health"
                                                    : "turn on the broker's persistence (mosquitto: persistence true) and keep mqtt.session_expiry long; on a RabbitMQ cluster use quorum queues (mqtt.durable_queue_type = quorum)")
    }

    /// Which broker the daemon is on and, with a list, its last move: from its `health` answer.
    private static func whereConnected(_ health: JSONValue) -> [String] {
        guard let broker = health["broker"]?.stringValue, !broker.isEmpty else { return [] }
        var lines = ["on \(broker)" + (health["mqtt_protocol"]?.stringValue.map { " with MQTT \($0)" } ?? "")]
        if let f = health["failover"], f != .null, let from = f["from"]?.stringValue, let to = f["to"]?.stringValue {
            lines.append("last failover: from \(from) to \(to) (\(f["reason"]?.stringValue ?? "no reason")) at \(f["at"]?.stringValue ?? "?")")
        }
        return lines
    }
}
