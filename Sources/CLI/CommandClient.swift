import CMosquitto
import Foundation
import SpeakerbridgeHost
import Synchronization

/// A short-lived MQTT client for the commands (`health`, `say`): connects with a throwaway id and a clean
/// session, asks the daemon something, waits for the answer. Not for the daemon's own session.
final class CommandClient: Sendable {
    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    struct Message: Sendable {
        let topic: String
        let payload: [UInt8]
        let correlationData: [UInt8]?
        var text: String { String(decoding: payload, as: UTF8.self) }
    }

    private struct State {
        var connack: Int32? = nil
        var subscribed = 0
        var messages: [Message] = []
    }

    /// The libmosquitto handle. Sendable because after `init` it is only passed to libmosquitto
    /// functions documented as thread-safe (publish, subscribe, disconnect, loop_stop, destroy).
    private struct Handle: @unchecked Sendable { let raw: OpaquePointer }

    private let handle: Handle
    private let config: Configuration
    private let box: Unmanaged<Box>

    private final class Box: Sendable {
        let state = Mutex(State())
    }

    init(config: Configuration, timeout: Double = 5) throws(Failure) {
        // The daemon's own broker admits its login only (unless allow_anonymous): the same
        // configuration names the same state directory, where the password is.
        var login: EmbeddedBrokerCredentials? = nil
        if config.usesEmbeddedBroker {
            do {
                login = try EmbeddedBrokerCredentials.load(stateDirectory: config.stateDirectory)
            } catch {
                throw Failure(description: error.description)
            }
        }
        mosquitto_lib_init()
        self.config = config
        let box = Unmanaged.passRetained(Box())
        self.box = box
        let id = "speakerbridge-cli-\(UInt32.random(in: 0...UInt32.max))"
        guard let h = mosquitto_new(id, true, box.toOpaque()) else { throw Failure(description: "cannot create an MQTT client") }
        handle = Handle(raw: h)
        let m = config.mqtt
        mosquitto_int_option(h, MOSQ_OPT_PROTOCOL_VERSION, m.protocolChoice.preferred == .v5 ? Int32(MQTT_PROTOCOL_V5) : Int32(MQTT_PROTOCOL_V311))
        mosquitto_int_option(h, MOSQ_OPT_TCP_NODELAY, 1)
        if let login {
            mosquitto_username_pw_set(h, login.username, login.password.value)
        } else if let user = m.username {
            mosquitto_username_pw_set(h, user, m.password?.value)
        }
        if m.tls.enabled {
            mosquitto_tls_set(h, m.tls.caFile, m.tls.caFile == nil ? "/etc/ssl/certs" : nil, m.tls.certFile, m.tls.keyFile, nil)
            mosquitto_tls_insecure_set(h, m.tls.insecure)
        }
        mosquitto_connect_v5_callback_set(h) { _, obj, rc, _, _ in
            Unmanaged<Box>.fromOpaque(obj!).takeUnretainedValue().state.withLock { $0.connack = rc }
        }
        mosquitto_subscribe_v5_callback_set(h) { _, obj, _, _, _, _ in
            Unmanaged<Box>.fromOpaque(obj!).takeUnretainedValue().state.withLock { $0.subscribed += 1 }
        }
        mosquitto_message_v5_callback_set(h) { _, obj, msg, props in
            guard let msg else { return }
            let m = msg.pointee
            var correlation: [UInt8]? = nil
            var data: UnsafeMutableRawPointer? = nil
            var length: UInt16 = 0
            if let props, mosquitto_property_read_binary(props, Int32(MQTT_PROP_CORRELATION_DATA.rawValue), &data, &length, false) != nil, let data {
                correlation = Array(UnsafeRawBufferPointer(start: data, count: Int(length)))
                free(data)
            }
            let message = Message(topic: String(cString: m.topic),
                                  payload: m.payloadlen > 0 ? Array(UnsafeRawBufferPointer(start: m.payload, count: Int(m.payloadlen))) : [],
                                  correlationData: correlation)
            Unmanaged<Box>.fromOpaque(obj!).takeUnretainedValue().state.withLock { $0.messages.append(message) }
        }
        let rc = mosquitto_connect_async(h, config.brokerHost, Int32(config.brokerPort), 30)
        guard rc == MOSQ_ERR_SUCCESS.rawValue else {
            // Every property is set, so deinit runs too: close() frees the handle and box once.
            close()
            throw Failure(description: "cannot reach the broker at \(config.brokerHost):\(config.brokerPort): \(String(cString: mosquitto_strerror(rc)))")
        }
        mosquitto_loop_start(h)
        let connack = wait(timeout) { $0.connack }
        guard let connack else {
            close()
            throw Failure(description: "no answer from the broker at \(config.brokerHost):\(config.brokerPort) within \(timeout) s")
        }
        guard connack == 0 else {
            close()
            throw Failure(description: "the broker refused the connection: \(String(cString: mosquitto_reason_string(connack)))")
        }
    }

    deinit { close() }

    private func withState<T: Sendable>(_ body: (inout State) -> T) -> T {
        box.takeUnretainedValue().state.withLock { s in body(&s) }
    }

    private func wait<T: Sendable>(_ timeout: Double, _ check: (inout State) -> T?) -> T? {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if let v = withState(check) { return v }
            usleep(10_000)
        }
        return nil
    }

    func subscribe(_ filter: String, timeout: Double = 5) throws(Failure) {
        let before = withState { $0.subscribed }
        let rc = mosquitto_subscribe(handle.raw, nil, filter, 1)
        guard rc == MOSQ_ERR_SUCCESS.rawValue, wait(timeout, { $0.subscribed > before ? true : nil }) != nil else {
            throw Failure(description: "cannot subscribe to \(filter)")
        }
    }

    func publish(_ topic: String, _ payload: [UInt8], responseTopic: String? = nil, correlationData: [UInt8]? = nil) throws(Failure) {
        var props: OpaquePointer? = nil
        defer { mosquitto_property_free_all(&props) }
        if config.mqtt.protocolChoice != .v311 {
            if let responseTopic { mosquitto_property_add_string(&props, Int32(MQTT_PROP_RESPONSE_TOPIC.rawValue), responseTopic) }
            if let correlationData {
                correlationData.withUnsafeBytes { _ = mosquitto_property_add_binary(&props, Int32(MQTT_PROP_CORRELATION_DATA.rawValue), $0.baseAddress, UInt16($0.count)) }
            }
        }
        let rc = payload.withUnsafeBytes { mosquitto_publish_v5(handle.raw, nil, topic, Int32($0.count), $0.baseAddress, 1, false, props) }
        guard rc == MOSQ_ERR_SUCCESS.rawValue else {
            throw Failure(description: "cannot publish to \(topic): \(String(cString: mosquitto_strerror(rc)))")
        }
    }

    /// The first received message (oldest first, consumed) for which `match` returns a value.
    func next<T: Sendable>(timeout: Double, _ match: (Message) -> T?) -> T? {
        wait(timeout) { s in
            for (i, m) in s.messages.enumerated() {
                if let v = match(m) {
                    s.messages.removeFirst(i + 1)
                    return v
                }
            }
            return nil
        }
    }

    private let closed = Mutex(false)

    func close() {
        guard !closed.withLock({ let was = $0; $0 = true; return was }) else { return }
        mosquitto_disconnect(handle.raw)
        mosquitto_loop_stop(handle.raw, false)
        mosquitto_destroy(handle.raw)
        box.release()
    }
}
