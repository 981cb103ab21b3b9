import Foundation

/// Is the configured broker there, and does it let the daemon's login in? Each way of failing has
/// its own cause and so its own fix.
enum BrokerCheck {
    static func check(_ config: Configuration, _ outcome: BrokerProbe.Outcome) -> DoctorCheck {
        let name = "broker"
        let at = "\(config.brokerHost):\(config.brokerPort)"
        let embedded = config.usesEmbeddedBroker
        let login = embedded ? "the embedded broker's login" : config.mqtt.username.map { "user \($0)" } ?? "no login (anonymous)"
        let credentialsFix = embedded
            ? "run the doctor with the daemon's state_dir (--state-dir or --config), as its user or root"
            : "check mqtt.username and the password (mqtt.password_file or SPEAKERBRIDGE_MQTT_PASSWORD) against the broker's password file"
        switch outcome {
        case .connected:
            return .ok(name, "connected to \(at) with \(login) (MQTT \(config.mqtt.protocolChoice.rawValue)\(config.mqtt.tls.enabled ? ", TLS" : ""))"
                       + (embedded ? ", the daemon's embedded broker" : ""))
        case .noLogin(let why):
            return .fail(name, "cannot log in to the embedded broker at \(at)", details: [why],
                         fix: "start the daemon once (speakerbridge run) with this state_dir: it creates the broker and its password")
        case .unresolvable(let why):
            return .fail(name, "cannot resolve the broker's host name \(config.brokerHost): \(why)",
                         details: ["the name lookup failed before any connection was tried"],
                         fix: "check mqtt.host for a typo, or this machine's DNS (/etc/resolv.conf); an IP address avoids the lookup")
        case .refused:
            return .fail(name, "\(at) refused the connection: nothing listens on port \(config.brokerPort)",
                         details: embedded ? ["without mqtt.host the daemon runs its own broker, so it is there only while the daemon runs"] : [],
                         fix: embedded ? "start the daemon: speakerbridge run (it starts its broker on port \(config.brokerPort))"
                                       : "start the broker on \(config.brokerHost), or correct mqtt.port (now \(config.brokerPort))")
        case .timedOut(let seconds):
            return .fail(name, "no answer from \(at) within \(seconds) s",
                         details: ["the packets go unanswered: a firewall drops them, or the host is down or not this address"],
                         fix: "check that \(config.brokerHost) is up and that port \(config.brokerPort) is open to this machine")
        case .unreachable(let why):
            return .fail(name, "cannot reach \(at): \(why)",
                         details: ["this machine has no route to the broker"],
                         fix: "check this machine's network (ip route) and mqtt.host / mqtt.bind_address")
        case .tlsFailed(let why):
            return .fail(name, "\(at) answered, but the TLS handshake failed", details: [why],
                         fix: "see the tls check below")
        case .badCredentials(let text):
            return .fail(name, "\(at) refused \(login): bad user name or password", details: ["the broker's CONNACK: \(text)"], fix: credentialsFix)
        case .notAuthorised(let text):
            return .fail(name, "\(at) refused \(login): not authorised",
                         details: ["the broker's CONNACK: \(text)",
                                   "it is reachable and speaks MQTT, but does not accept this login: an unknown user, a wrong password, or a user who may not connect"],
                         fix: credentialsFix)
        case .rejected(let code, let text):
            return .fail(name, "\(at) refused the connection: \(text) (code \(code))",
                         fix: config.mqtt.protocolChoice != .v311 ? "if the broker only speaks MQTT 3.1.1, set mqtt.protocol: \"3.1.1\"" : "see the broker's log for why it refused")
        case .noAnswer(let why):
            return .fail(name, "\(at) accepted TCP but did not answer as an MQTT broker", details: [why],
                         fix: config.mqtt.tls.enabled ? "check that port \(config.brokerPort) speaks MQTT over TLS"
                                                      : "check that port \(config.brokerPort) is MQTT; if it wants TLS, set mqtt.tls.enabled: true")
        }
    }
}
