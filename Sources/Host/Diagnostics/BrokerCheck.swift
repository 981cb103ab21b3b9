import Foundation

/// Is each configured broker there, does it let the daemon's login in, and which MQTT version does
/// it take? Each way of failing has its own cause and so its own fix.
enum BrokerCheck {
    /// The first broker alone, as a single `mqtt.host` (or the embedded broker) reads.
    static func check(_ config: Configuration, _ outcome: BrokerProbe.Outcome) -> DoctorCheck {
        check(config, BrokerProbe.Probed(broker: config.brokerList[0], outcome: outcome), name: "broker")
    }

    /// One check per broker. With a list, a broker that does not work is a warning while another
    /// does (the daemon uses that one) and a failure when none does; a list of one is warned about,
    /// since it has nothing to fail over to.
    static func checks(_ config: Configuration, _ probed: [BrokerProbe.Probed]) -> [DoctorCheck] {
        guard !config.mqtt.brokers.isEmpty else { return probed.prefix(1).map { check(config, $0, name: "broker") } }
        let working = probed.filter { $0.outcome == .connected }.map(\.broker.description)
        var checks = probed.enumerated().map { index, one in
            let check = check(config, one, name: probed.count == 1 ? "broker" : "broker \(index + 1)")
            guard check.verdict == .fail, !working.isEmpty else { return check }
            return DoctorCheck(check.name, .warn, check.summary,
                               details: check.details + ["the daemon can use \(working.joined(separator: ", ")) meanwhile, but not fail over to this one"],
                               fix: check.fix)
        }
        if config.mqtt.brokers.count == 1 {
            checks.append(.warn("brokers", "mqtt.brokers lists one broker: there is nothing to fail over to",
                                fix: "list every node of the cluster (host:port each), or set mqtt.host for a single broker"))
        }
        return checks
    }

    static func check(_ config: Configuration, _ probed: BrokerProbe.Probed, name: String) -> DoctorCheck {
        let broker = probed.broker
        let at = broker.description
        let tls = broker.usesTLS(config.mqtt)
        let choice = config.mqtt.protocolChoice
        let embedded = config.usesEmbeddedBroker
        let login = embedded ? "the embedded broker's login" : config.mqtt.username.map { "user \($0)" } ?? "no login (anonymous)"
        let credentialsFix = embedded
            ? "run the doctor with the daemon's state_dir (--state-dir or --config), as its user or root"
            : "check mqtt.username and the password (mqtt.password_file or SPEAKERBRIDGE_MQTT_PASSWORD) against the broker's password file"
        let hostKey = config.mqtt.brokers.isEmpty ? "mqtt.host" : "mqtt.brokers"
        // With auto the daemon already falls back; with 5 forced, a broker that refused it is the cause.
        if probed.outcome != .connected, let why = probed.refusedVersion5, choice == .v5 {
            return .fail(name, "\(at) does not take MQTT 5 (to an MQTT 5 CONNECT \(why)), and mqtt.protocol is 5",
                         details: ["some brokers speak MQTT 3.1.1 only: RabbitMQ 3.10, NATS 2.9 and amqtt among them"],
                         fix: "set mqtt.protocol to auto (the default: MQTT 5, else 3.1.1) or to 3.1.1")
        }
        let triedFirst = probed.refusedVersion5.map { ["MQTT 5 was tried first: \($0); this is what MQTT 3.1.1 got"] } ?? []
        switch probed.outcome {
        case .connected:
            let version = probed.version ?? choice.preferred
            var details: [String] = []
            if let why = probed.refusedVersion5, version == .v311 {
                details.append("it did not take MQTT 5 (\(why)); the daemon speaks 3.1.1 to it as well (mqtt.protocol auto)")
            }
            return .ok(name, "connected to \(at) with \(login) (MQTT \(version.rawValue)\(tls ? ", TLS" : ""))"
                       + (embedded ? ", the daemon's embedded broker" : ""), details: details)
        case .noLogin(let why):
            return .fail(name, "cannot log in to the embedded broker at \(at)", details: [why],
                         fix: "start the daemon once (speakerbridge run) with this state_dir: it creates the broker and its password")
        case .unresolvable(let why):
            return .fail(name, "cannot resolve the broker's host name \(broker.host): \(why)",
                         details: ["the name lookup failed before any connection was tried"],
                         fix: "check \(hostKey) for a typo, or this machine's DNS (/etc/resolv.conf); an IP address avoids the lookup")
        case .refused:
            return .fail(name, "\(at) refused the connection: nothing listens on port \(broker.port)",
                         details: embedded ? ["without mqtt.host the daemon runs its own broker, so it is there only while the daemon runs"] : [],
                         fix: embedded ? "start the daemon: speakerbridge run (it starts its broker on port \(broker.port))"
                                       : "start the broker on \(broker.host), or correct \(config.mqtt.brokers.isEmpty ? "mqtt.port" : "the entry's port") (now \(broker.port))")
        case .timedOut(let seconds):
            return .fail(name, "no answer from \(at) within \(seconds) s",
                         details: ["the packets go unanswered: a firewall drops them, or the host is down or not this address"],
                         fix: "check that \(broker.host) is up and that port \(broker.port) is open to this machine")
        case .unreachable(let why):
            return .fail(name, "cannot reach \(at): \(why)",
                         details: ["this machine has no route to the broker"],
                         fix: "check this machine's network (ip route) and \(hostKey) / mqtt.bind_address")
        case .tlsFailed(let why):
            return .fail(name, "\(at) answered, but the TLS handshake failed", details: [why],
                         fix: "see the tls check below")
        case .badCredentials(let text):
            return .fail(name, "\(at) refused \(login): bad user name or password", details: ["the broker's CONNACK: \(text)"] + triedFirst,
                         fix: credentialsFix)
        case .notAuthorised(let text):
            return .fail(name, "\(at) refused \(login): not authorised",
                         details: ["the broker's CONNACK: \(text)",
                                   "it is reachable and speaks MQTT, but does not accept this login: an unknown user, a wrong password, or a user who may not connect"]
                                  + triedFirst,
                         fix: credentialsFix)
        case .rejected(let code, let text):
            return .fail(name, "\(at) refused the connection: \(text) (code \(code))", details: triedFirst,
                         fix: choice == .v5 ? "if the broker only speaks MQTT 3.1.1, set mqtt.protocol to auto (the default) or 3.1.1"
                                            : "see the broker's log for why it refused")
        case .noAnswer(let why):
            return .fail(name, "\(at) accepted TCP but did not answer as an MQTT broker", details: [why] + triedFirst,
                         fix: tls ? "check that port \(broker.port) speaks MQTT over TLS"
                                  : "check that port \(broker.port) is MQTT; if it wants TLS, set mqtt.tls.enabled: true (or write the entry mqtts://)")
        }
    }
}
