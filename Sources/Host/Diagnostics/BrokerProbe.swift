import CMosquitto
import Foundation

/// Connects to the configured broker as the daemon would (same host, port, protocol, login, TLS and
/// source address) under a throwaway client id with a clean session, so the daemon's own session is
/// never touched, and says how far it got.
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

    /// Connection state seen by libmosquitto's callbacks; they run on the caller's thread, inside
    /// `mosquitto_connect` and `mosquitto_loop`.
    private final class Progress {
        var connack: Int32? = nil
        var libraryErrors: [String] = []
    }

    public static func run(_ config: Configuration) -> Outcome {
        let timeout = config.mqtt.reconnect.connectTimeout
        switch BrokerReach.check(host: config.brokerHost, port: config.brokerPort, timeout: timeout) {
        case .reachable: break
        case .unresolvable(let why): return .unresolvable(why)
        case .refused: return .refused
        case .timedOut: return .timedOut(timeout)
        case .unreachable(let why): return .unreachable(why)
        }
        var login: (user: String, password: String?)? = config.mqtt.username.map { ($0, config.mqtt.password?.value) }
        if config.usesEmbeddedBroker {
            do {
                let c = try EmbeddedBrokerCredentials.load(stateDirectory: config.stateDirectory)
                login = (c.username, c.password.value)
            } catch {
                return .noLogin(error.description)
            }
        }
        return mqttConnect(config, login: login, timeout: timeout)
    }

    private static func mqttConnect(_ config: Configuration, login: (user: String, password: String?)?, timeout: Double) -> Outcome {
        mosquitto_lib_init()
        let progress = Progress()
        let me = Unmanaged.passUnretained(progress).toOpaque()
        let id = "speakerbridge-doctor-\(UInt32.random(in: 0...UInt32.max))"
        guard let h = mosquitto_new(id, true, me) else { return .noAnswer("cannot create an MQTT client") }
        defer { mosquitto_destroy(h) }
        let m = config.mqtt
        let v5 = m.protocolChoice.preferred == .v5
        mosquitto_int_option(h, MOSQ_OPT_PROTOCOL_VERSION, v5 ? Int32(MQTT_PROTOCOL_V5) : Int32(MQTT_PROTOCOL_V311))
        if let login { mosquitto_username_pw_set(h, login.user, login.password) }
        if m.tls.enabled {
            let rc = mosquitto_tls_set(h, m.tls.caFile, m.tls.caFile == nil ? "/etc/ssl/certs" : nil, m.tls.certFile, m.tls.keyFile, nil)
            guard rc == MOSQ_ERR_SUCCESS.rawValue else {
                return .tlsFailed("the TLS files could not be used (\(String(cString: mosquitto_strerror(rc))))")
            }
            mosquitto_tls_insecure_set(h, m.tls.insecure)
        }
        mosquitto_log_callback_set(h) { _, obj, level, text in
            guard let obj, let text, level == MOSQ_LOG_ERR || level == MOSQ_LOG_WARNING else { return }
            Unmanaged<Progress>.fromOpaque(obj).takeUnretainedValue().libraryErrors.append(String(cString: text))
        }
        mosquitto_connect_v5_callback_set(h) { _, obj, rc, _, _ in
            guard let obj else { return }
            Unmanaged<Progress>.fromOpaque(obj).takeUnretainedValue().connack = rc
        }
        var rc = mosquitto_connect_bind_v5(h, config.brokerHost, Int32(config.brokerPort), 10, m.bindAddress, nil)
        let deadline = Date().addingTimeInterval(timeout)
        while rc == MOSQ_ERR_SUCCESS.rawValue, progress.connack == nil, Date() < deadline {
            rc = mosquitto_loop(h, 100, 1)
        }
        if let connack = progress.connack {
            mosquitto_disconnect(h)
            return classify(connack: Int(connack), v5: v5)
        }
        let said = progress.libraryErrors.last.map { "; libmosquitto said: " + $0 } ?? ""
        if rc == MOSQ_ERR_TLS.rawValue { return .tlsFailed("MOSQ_ERR_TLS\(said)") }
        if rc == MOSQ_ERR_SUCCESS.rawValue { return .noAnswer("no CONNACK within \(timeout) s") }
        let text = rc == MOSQ_ERR_ERRNO.rawValue ? String(cString: strerror(errno)) : String(cString: mosquitto_strerror(rc))
        return .noAnswer("the connection ended before the broker answered (\(text)\(said))")
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
