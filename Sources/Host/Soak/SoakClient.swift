import CMosquitto
import Foundation
import Synchronization

/// The soak's own MQTT client. Unlike `CommandClient` it must outlive broker restarts without
/// missing an event: a persistent session (clean start off, a session expiry under MQTT 5) keeps
/// the daemon's events queued for us while we are away, and every connect subscribes again. It
/// reports PUBACKs, so the soak knows which QoS 1 announcements the broker accepted.
public final class SoakClient: Sendable {
    public enum Event: Sendable {
        case connected
        case disconnected(rc: Int32)
        /// PUBACK for a QoS 1 publish, or "written" for a QoS 0 one.
        case published(mid: Int32)
        case message(topic: String, payload: [UInt8], retained: Bool)
    }

    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }

    /// The libmosquitto handle. Sendable because after `init` it is only passed to libmosquitto
    /// functions documented as thread-safe (publish, subscribe, disconnect, loop_stop, destroy).
    private struct Handle: @unchecked Sendable { let raw: OpaquePointer }

    private final class Box: Sendable {
        let inbox = Mutex<[(ContinuousClock.Instant, Event)]>([])
        let connected = Mutex(false)
        let filters: [String]
        init(filters: [String]) { self.filters = filters }
    }

    private let handle: Handle
    private let box: Unmanaged<Box>
    private let config: Configuration
    private let clientID: String
    private let login: (user: String, password: String?)?
    private let closed = Mutex(false)

    /// Connects (the first TCP connection must succeed) and subscribes to `filters` at QoS 1 on
    /// every connect; libmosquitto reconnects by itself every second after a loss.
    public init(config: Configuration, filters: [String]) throws(Failure) {
        mosquitto_lib_init()
        self.config = config
        let box = Unmanaged.passRetained(Box(filters: filters))
        self.box = box
        let id = "speakerbridge-soak-\(UInt32.random(in: 0...UInt32.max))"
        clientID = id
        guard let h = mosquitto_new(id, false, box.toOpaque()) else {
            box.release()
            throw Failure(description: "cannot create an MQTT client")
        }
        handle = Handle(raw: h)
        let m = config.mqtt
        // MQTT 3.1.1 on purpose: libmosquitto's own reconnects send no CONNECT properties, so an MQTT 5
        // session expiry would be lost at the first reconnect, and with it the events queued for us
        // during the next broker restart. A 3.1.1 session without clean session never expires; `close`
        // removes it.
        mosquitto_int_option(h, MOSQ_OPT_PROTOCOL_VERSION, Int32(MQTT_PROTOCOL_V311))
        mosquitto_int_option(h, MOSQ_OPT_TCP_NODELAY, 1)
        // The publisher paces itself; let every QoS 1 announcement be in flight at once if the broker is slow.
        mosquitto_max_inflight_messages_set(h, 0)
        mosquitto_reconnect_delay_set(h, 1, 1, false)
        let login: (user: String, password: String?)?
        do {
            login = try SoakClient.login(config)
        } catch {
            mosquitto_destroy(h)
            box.release()
            throw Failure(description: error.description)
        }
        self.login = login
        if let login { mosquitto_username_pw_set(h, login.user, login.password) }
        if m.tls.enabled {
            mosquitto_tls_set(h, m.tls.caFile, m.tls.caFile == nil ? "/etc/ssl/certs" : nil, m.tls.certFile, m.tls.keyFile, nil)
            mosquitto_tls_insecure_set(h, m.tls.insecure)
        }
        mosquitto_connect_v5_callback_set(h) { mosq, obj, rc, _, _ in
            let box = Unmanaged<Box>.fromOpaque(obj!).takeUnretainedValue()
            guard rc == 0 else { return }
            for filter in box.filters { mosquitto_subscribe(mosq, nil, filter, 1) }
            box.connected.withLock { $0 = true }
            box.inbox.withLock { $0.append((.now, .connected)) }
        }
        mosquitto_disconnect_v5_callback_set(h) { _, obj, rc, _ in
            let box = Unmanaged<Box>.fromOpaque(obj!).takeUnretainedValue()
            box.connected.withLock { $0 = false }
            box.inbox.withLock { $0.append((.now, .disconnected(rc: rc))) }
        }
        mosquitto_publish_v5_callback_set(h) { _, obj, mid, _, _ in
            Unmanaged<Box>.fromOpaque(obj!).takeUnretainedValue().inbox.withLock { $0.append((.now, .published(mid: mid))) }
        }
        mosquitto_message_v5_callback_set(h) { _, obj, msg, _ in
            guard let msg else { return }
            let m = msg.pointee
            let event = Event.message(topic: String(cString: m.topic),
                                      payload: m.payloadlen > 0 ? Array(UnsafeRawBufferPointer(start: m.payload, count: Int(m.payloadlen))) : [],
                                      retained: m.retain)
            Unmanaged<Box>.fromOpaque(obj!).takeUnretainedValue().inbox.withLock { $0.append((.now, event)) }
        }
        let rc = mosquitto_connect_bind(h, config.brokerHost, Int32(config.brokerPort), 30, m.bindAddress)
        guard rc == MOSQ_ERR_SUCCESS.rawValue else {
            mosquitto_destroy(h)
            box.release()
            throw Failure(description: "cannot reach the broker at \(config.brokerHost):\(config.brokerPort): \(String(cString: mosquitto_strerror(rc)))")
        }
        mosquitto_loop_start(h)
    }

    deinit { close() }

    /// Like `CommandClient`: the embedded broker's generated login, else the configured one.
    private static func login(_ config: Configuration) throws(EmbeddedBrokerCredentials.Unavailable) -> (user: String, password: String?)? {
        if config.usesEmbeddedBroker {
            let login = try EmbeddedBrokerCredentials.load(stateDirectory: config.stateDirectory)
            return (login.username, login.password.value)
        }
        return config.mqtt.username.map { ($0, config.mqtt.password?.value) }
    }

    public var isConnected: Bool { box.takeUnretainedValue().connected.withLock { $0 } }

    /// Everything that happened since the last call, oldest first, with the time it happened.
    public func drain() -> [(ContinuousClock.Instant, Event)] {
        box.takeUnretainedValue().inbox.withLock { let all = $0; $0.removeAll(); return all }
    }

    /// Publishes and returns the message id (matched by a later `.published`), or nil when
    /// libmosquitto refused (a QoS 0 message while not connected, for instance).
    public func publish(_ topic: String, _ payload: [UInt8], qos: Int32) -> Int32? {
        var mid: Int32 = 0
        let rc = payload.withUnsafeBytes { mosquitto_publish(handle.raw, &mid, topic, Int32($0.count), $0.baseAddress, qos, false) }
        // A QoS 1 message published while disconnected is queued and sent after the reconnect,
        // even though libmosquitto answers MOSQ_ERR_NO_CONN for it.
        if rc == MOSQ_ERR_SUCCESS.rawValue || (qos > 0 && rc == MOSQ_ERR_NO_CONN.rawValue) { return mid }
        return nil
    }

    /// Disconnects, then connects once more with a clean session so the broker forgets ours.
    public func close() {
        guard !closed.withLock({ let was = $0; $0 = true; return was }) else { return }
        mosquitto_disconnect(handle.raw)
        mosquitto_loop_stop(handle.raw, false)
        mosquitto_destroy(handle.raw)
        box.release()
        forgetSession()
    }

    private func forgetSession() {
        guard let h = mosquitto_new(clientID, true, nil) else { return }
        defer { mosquitto_destroy(h) }
        mosquitto_int_option(h, MOSQ_OPT_PROTOCOL_VERSION, Int32(MQTT_PROTOCOL_V311))
        let m = config.mqtt
        if let login { mosquitto_username_pw_set(h, login.user, login.password) }
        if m.tls.enabled {
            mosquitto_tls_set(h, m.tls.caFile, m.tls.caFile == nil ? "/etc/ssl/certs" : nil, m.tls.certFile, m.tls.keyFile, nil)
            mosquitto_tls_insecure_set(h, m.tls.insecure)
        }
        guard mosquitto_connect_bind(h, config.brokerHost, Int32(config.brokerPort), 10, m.bindAddress) == MOSQ_ERR_SUCCESS.rawValue else { return }
        // The CONNACK is read by the loop; a few short rounds are plenty on a working broker.
        for _ in 0..<10 where mosquitto_loop(h, 50, 1) == MOSQ_ERR_SUCCESS.rawValue {}
        mosquitto_disconnect(h)
        _ = mosquitto_loop(h, 50, 1)
    }
}
