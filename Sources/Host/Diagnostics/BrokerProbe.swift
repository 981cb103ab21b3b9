import CMosquitto
import Foundation

/// Connects to each configured broker as the daemon would (same address, protocol rule, login, TLS
/// and source address) under a throwaway client id with a clean session, so the daemon's own
/// session is never touched, and says how far it got and which MQTT version the broker took.
public enum BrokerProbe {
    public enum Outcome: Sendable, Equatable {
        case connected
        /// The embedded broker's password is not there to be read.
        case noLogin(String)
        case unresolvable(String)
        case refused
        case timedOut(Double)
        case unreachable(String)
        /// The TLS setup or handshake failed; what OpenSSL said, when libmosquitto passed it on.
        case tlsFailed(String)
        /// CONNACK: bad user name or password (3.1.1 code 4, MQTT 5 0x86).
        case badCredentials(String)
        /// CONNACK: not authorised (3.1.1 code 5, MQTT 5 0x87).
        case notAuthorised(String)
        /// Any other refusal in the CONNACK.
        case rejected(code: Int, String)
        /// TCP (and TLS) got through, then nothing or a closed connection instead of a CONNACK.
        case noAnswer(String)
    }

    /// One broker of the list and how far the probe got with it.
    public struct Probed: Sendable, Equatable {
        public let broker: BrokerAddress
        public let outcome: Outcome
        /// The version the broker took (with `mqtt.protocol: auto`, 3.1.1 after it refused 5).
        public let version: Configuration.ProtocolVersion?
        /// What the broker did to an MQTT 5 CONNECT when that looked like a refusal of the version.
        public let refusedVersion5: String?

        public init(broker: BrokerAddress, outcome: Outcome, version: Configuration.ProtocolVersion? = nil,
                    refusedVersion5: String? = nil) {
            self.broker = broker
            self.outcome = outcome
            self.version = version
            self.refusedVersion5 = refusedVersion5
        }
    }

    /// Every broker of the list, in order: reachable, the login taken, which version.
    public static func runAll(_ config: Configuration) -> [Probed] {
        config.brokerList.map { probe($0, config) }
    }

    private static func probe(_ broker: BrokerAddress, _ config: Configuration) -> Probed {
        let timeout = config.mqtt.reconnect.connectTimeout
        // The doctor's own TCP connect first: it tells a wrong name, a closed port and a silent
        // path apart before MQTT is tried.
        switch BrokerReach.check(host: broker.host, port: broker.port, timeout: timeout) {
        case .reachable: break
        case .unresolvable(let why): return Probed(broker: broker, outcome: .unresolvable(why))
        case .refused: return Probed(broker: broker, outcome: .refused)
        case .timedOut: return Probed(broker: broker, outcome: .timedOut(timeout))
        case .unreachable(let why): return Probed(broker: broker, outcome: .unreachable(why))
        }
        var login: BrokerAttempt.Login? = config.mqtt.username.map { .init(user: $0, password: config.mqtt.password?.value) }
        if config.usesEmbeddedBroker {
            do {
                let c = try EmbeddedBrokerCredentials.load(stateDirectory: config.stateDirectory)
                login = .init(user: c.username, password: c.password.value)
            } catch {
                return Probed(broker: broker, outcome: .noLogin(error.description))
            }
        }
        let id = "speakerbridge-doctor-\(UInt32.random(in: 0...UInt32.max))"
        let result = BrokerAttempt.negotiate(broker, config: config, login: login, clientID: id, keepalive: 10, timeout: timeout)
        if let h = result.handle {
            mosquitto_disconnect(h)
            mosquitto_destroy(h)
        }
        let outcome: Outcome
        switch result.end {
        case .connected: outcome = .connected
        case .unresolvable(let why): outcome = .unresolvable(why)
        case .refused: outcome = .refused
        case .unreachable(let why): outcome = .unreachable(why)
        case .timedOut(let seconds): outcome = .timedOut(seconds)
        case .tlsFailed(let why): outcome = .tlsFailed(why)
        case .connack(let code, let v5): outcome = classify(connack: code, v5: v5)
        case .noAnswer(let why), .setup(let why): outcome = .noAnswer(why)
        }
        return Probed(broker: broker, outcome: outcome, version: outcome == .connected ? result.version : nil,
                      refusedVersion5: result.refusedVersion5)
    }

    static func classify(connack code: Int, v5: Bool) -> Outcome {
        if code == 0 { return .connected }
        let text = v5 ? String(cString: mosquitto_reason_string(Int32(code))) : String(cString: mosquitto_connack_string(Int32(code)))
        switch (v5, code) {
        case (true, 0x86), (false, 4): return .badCredentials(text)
        case (true, 0x87), (false, 5): return .notAuthorised(text)
        default: return .rejected(code: code, text)
        }
    }
}
