import CMosquitto
import Foundation

/// One short-lived client's way onto one broker of the list: the doctor's probe and the one-shot
/// commands (`say`, `health`, `ask`) connect through it under a throwaway client id with a clean
/// session, so the daemon's own session is never touched.
///
/// The connect is the session's own (`AsyncConnect`), bounded on our clock, and with
/// `mqtt.protocol: auto` it follows the session's rule: MQTT 5 first, then at once 3.1.1 when the
/// broker's answer says it may not speak 5 (`ProtocolRefusal`: CONNACK 0x84, a protocol error, a
/// close or silence before any CONNACK).
public enum BrokerAttempt {
    public struct Login: Sendable {
        public var user: String
        public var password: String?

        public init(user: String, password: String?) {
            self.user = user
            self.password = password
        }
    }

    /// How one CONNECT ended.
    public enum End: Sendable, Equatable {
        case connected
        case unresolvable(String)
        /// Nothing listens on the port.
        case refused
        case unreachable(String)
        /// No TCP connection within the timeout (seconds).
        case timedOut(Double)
        case tlsFailed(String)
        /// The broker refused in its CONNACK; `v5` says which table the code is from.
        case connack(code: Int, v5: Bool)
        /// TCP (and TLS) got through, then a closed connection or silence instead of a CONNACK.
        case noAnswer(String)
        /// The client could not be set up (out of memory, unusable TLS files).
        case setup(String)

        /// What happened, for a message that names the broker before it.
        public var text: String {
            switch self {
            case .connected: "connected"
            case .unresolvable(let why): "cannot resolve its host name (\(why))"
            case .refused: "refused the connection (nothing listens on the port)"
            case .unreachable(let why): "cannot reach it (\(why))"
            case .timedOut(let seconds): "no TCP connection within \(seconds) s"
            case .tlsFailed(let why): "the TLS handshake failed (\(why))"
            case .connack(let code, let v5):
                "it refused the connection: \(String(cString: v5 ? mosquitto_reason_string(Int32(code)) : mosquitto_connack_string(Int32(code)))) (code \(code))"
            case .noAnswer(let why): "it accepted TCP but did not answer as an MQTT broker (\(why))"
            case .setup(let why): why
            }
        }
    }

    /// The last attempt on one broker. When `end` is `.connected`, `handle` is the connected client
    /// and the caller owns it (its user data is unset, no callback is pending); nil otherwise.
    public struct Result {
        public let broker: BrokerAddress
        public let version: Configuration.ProtocolVersion
        public let end: End
        public let handle: OpaquePointer?
        /// Why MQTT 5 looked refused: with `auto` the reason for the 3.1.1 attempt that followed;
        /// with `mqtt.protocol: 5` the reason this broker probably needs 3.1.1. nil otherwise.
        public let refusedVersion5: String?
    }

    /// Connects to `broker` as `config.mqtt.protocol` says (auto: 5, then 3.1.1 when 5 looks refused).
    public static func negotiate(
        _ broker: BrokerAddress, config: Configuration, login: Login?, clientID: String, keepalive: Int32, timeout: Double
    ) -> Result {
        let choice = config.mqtt.protocolChoice
        let first = once(broker, config: config, version: choice.preferred, login: login, clientID: clientID,
                         keepalive: keepalive, timeout: timeout)
        guard choice != .v311, first.handle == nil, let why = first.versionRefusal else { return first.result(nil) }
        guard choice == .auto else { return first.result(why) }
        return once(broker, config: config, version: .v311, login: login, clientID: clientID,
                    keepalive: keepalive, timeout: timeout).result(why)
    }

    /// What libmosquitto's callbacks saw during one connect; they run on the caller's thread,
    /// inside `mosquitto_loop_read`.
    private final class Progress {
        var connack: Int32? = nil
        var libraryErrors: [String] = []
    }

    private struct Once {
        let broker: BrokerAddress
        let version: Configuration.ProtocolVersion
        let end: End
        let handle: OpaquePointer?
        /// Set when the end may be the broker refusing MQTT 5: what it did.
        let versionRefusal: String?

        func result(_ refused: String?) -> Result {
            Result(broker: broker, version: version, end: end, handle: handle, refusedVersion5: refused)
        }
    }

    private static func once(
        _ broker: BrokerAddress, config: Configuration, version: Configuration.ProtocolVersion, login: Login?,
        clientID: String, keepalive: Int32, timeout: Double
    ) -> Once {
        func ended(_ end: End, _ reason: DisconnectReason? = nil, tcpUp: Bool = false, connackSeen: Bool = false) -> Once {
            var refusal: String? = nil
            if version == .v5, let reason {
                let attempt = ProtocolRefusal.Attempt(tcpUp: tcpUp, connackSeen: connackSeen, reason: reason)
                if ProtocolRefusal.mayBeVersionRefusal(attempt) { refusal = ProtocolRefusal.describe(attempt) }
            }
            return Once(broker: broker, version: version, end: end, handle: nil, versionRefusal: refusal)
        }
        mosquitto_lib_init()
        let progress = Progress()
        guard let h = mosquitto_new(clientID, true, Unmanaged.passUnretained(progress).toOpaque()) else {
            return ended(.setup("cannot create an MQTT client"))
        }
        var keep = false
        defer { if !keep { mosquitto_destroy(h) } }
        let m = config.mqtt
        mosquitto_int_option(h, MOSQ_OPT_PROTOCOL_VERSION, version == .v5 ? Int32(MQTT_PROTOCOL_V5) : Int32(MQTT_PROTOCOL_V311))
        mosquitto_int_option(h, MOSQ_OPT_TCP_NODELAY, 1)
        if let login { mosquitto_username_pw_set(h, login.user, login.password) }
        if broker.usesTLS(m) {
            let rc = mosquitto_tls_set(h, m.tls.caFile, m.tls.caFile == nil ? "/etc/ssl/certs" : nil, m.tls.certFile, m.tls.keyFile, nil)
            guard rc == MOSQ_ERR_SUCCESS.rawValue else {
                return ended(.tlsFailed("the TLS files could not be used (\(String(cString: mosquitto_strerror(rc))))"))
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

        switch AsyncConnect.start(h, broker: broker, keepalive: keepalive, bindAddress: m.bindAddress) {
        case .started: break
        case .unresolvable(let why): return ended(.unresolvable(why))
        case .failed(let code): return ended(code == ECONNREFUSED ? .refused : .unreachable(String(cString: strerror(code))))
        case .tls: return ended(.tlsFailed("MOSQ_ERR_TLS" + (progress.libraryErrors.last.map { "; libmosquitto said: " + $0 } ?? "")))
        case .library(let rc): return ended(.setup("cannot start the connection: \(String(cString: mosquitto_strerror(rc)))"))
        }

        let deadline = Date().addingTimeInterval(timeout)
        var connect = AsyncConnect()
        var loopRC = MOSQ_ERR_SUCCESS.rawValue
        while progress.connack == nil, loopRC == MOSQ_ERR_SUCCESS.rawValue, Date() < deadline {
            let sock = mosquitto_socket(h)
            guard sock >= 0 else {
                loopRC = MOSQ_ERR_CONN_LOST.rawValue
                break
            }
            var fd = pollfd(fd: sock, events: connect.events(h), revents: 0)
            _ = poll(&fd, 1, Int32(max(1, min(100, deadline.timeIntervalSinceNow * 1000))))
            switch connect.handle(revents: fd.revents, socket: sock, connackSeen: false) {
            case .tcpFailed(let code):
                return ended(code == ECONNREFUSED ? .refused : .unreachable(String(cString: strerror(code))))
            case .proceed(let read):
                if read { loopRC = mosquitto_loop_read(h, 1) }
            }
            if loopRC == MOSQ_ERR_SUCCESS.rawValue, progress.connack == nil, mosquitto_want_write(h) {
                loopRC = mosquitto_loop_write(h, 1)
            }
            if loopRC == MOSQ_ERR_SUCCESS.rawValue, progress.connack == nil { loopRC = mosquitto_loop_misc(h) }
        }
        let tcpUp = connect.tcpUp
        let said = progress.libraryErrors.last.map { "; libmosquitto said: " + $0 } ?? ""
        if let connack = progress.connack {
            guard connack == 0 else {
                let reason = version == .v5 ? DisconnectReason.fromReasonCode(Int(connack)) : .fromConnack(Int(connack))
                return ended(.connack(code: Int(connack), v5: version == .v5), reason, tcpUp: true, connackSeen: true)
            }
            // The caller's own callbacks and user data take over from here.
            mosquitto_user_data_set(h, nil)
            keep = true
            return Once(broker: broker, version: version, end: .connected, handle: h, versionRefusal: nil)
        }
        // OpenSSL's complaint in libmosquitto's log is the TLS failure, whichever call returned
        // the error (under load it can be the write's, as a lost connection).
        if loopRC == MOSQ_ERR_TLS.rawValue || ProtocolRefusal.isTLSFailure(progress.libraryErrors) {
            return ended(.tlsFailed("MOSQ_ERR_TLS\(said)"))
        }
        guard loopRC != MOSQ_ERR_SUCCESS.rawValue else {
            guard tcpUp else { return ended(.timedOut(timeout)) }
            return ended(.noAnswer("no CONNACK within \(timeout) s"),
                         DisconnectReason(code: -1, name: "timeout", explanation: "no CONNACK"), tcpUp: true)
        }
        let text = loopRC == MOSQ_ERR_ERRNO.rawValue ? String(cString: strerror(errno)) : String(cString: mosquitto_strerror(loopRC))
        return ended(.noAnswer("the connection ended before the broker answered (\(text)\(said))"),
                     .fromLibrary(loopRC, protocolVersion: version), tcpUp: tcpUp)
    }
}
