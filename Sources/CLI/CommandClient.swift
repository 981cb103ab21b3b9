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

    /// What the connection speaks: MQTT 5 carries a response topic and correlation data, 3.1.1 not.
    let version: Configuration.ProtocolVersion
    /// The broker of the list that took the connection.
    let broker: BrokerAddress

    /// Tries the brokers of the list in order, each for at most `mqtt.reconnect.connect_timeout`
    /// (and never longer than `timeout`), the way the session does: per-entry TLS and, with
    /// `mqtt.protocol: auto`, MQTT 5 first and 3.1.1 when a broker refuses 5. The first broker that
    /// takes the connection is used; when none does, the error names each one and why.
    init(config: Configuration, timeout: Double = 5) throws(Failure) {
        // The daemon's own broker admits its login only (unless allow_anonymous): the same
        // configuration names the same state directory, where the password is.
        var login: BrokerAttempt.Login? = config.mqtt.username.map { .init(user: $0, password: config.mqtt.password?.value) }
        if config.usesEmbeddedBroker {
            do {
                let c = try EmbeddedBrokerCredentials.load(stateDirectory: config.stateDirectory)
                login = .init(user: c.username, password: c.password.value)
            } catch {
                throw Failure(description: error.description)
            }
        }
        let id = "speakerbridge-cli-\(UInt32.random(in: 0...UInt32.max))"
        let perBroker = min(timeout, config.mqtt.reconnect.connectTimeout)
        var failures: [BrokerAttempt.Result] = []
        var connected: BrokerAttempt.Result? = nil
        for broker in config.brokerList {
            let result = BrokerAttempt.negotiate(broker, config: config, login: login, clientID: id, keepalive: 30, timeout: perBroker)
            if result.handle != nil {
                connected = result
                break
            }
            failures.append(result)
        }
        guard let connected, let h = connected.handle else { throw Failure(description: Self.noBroker(failures)) }
        self.config = config
        version = connected.version
        broker = connected.broker
        let box = Unmanaged.passRetained(Box())
        self.box = box
        handle = Handle(raw: h)
        mosquitto_user_data_set(h, box.toOpaque())
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
        mosquitto_loop_start(h)
    }

    /// Every broker tried and what each did; a 3.1.1 retry says why MQTT 5 was given up.
    static func noBroker(_ failures: [BrokerAttempt.Result]) -> String {
        func line(_ r: BrokerAttempt.Result) -> String {
            let fallback = r.refusedVersion5.map {
                r.version == .v311 ? " (with MQTT 3.1.1, tried because to MQTT 5 \($0))"
                                   : ": it may not speak MQTT 5 (mqtt.protocol is 5; auto, the default, would try 3.1.1)"
            } ?? ""
            return "\(r.broker): \(r.end.text)\(fallback)"
        }
        if failures.count == 1, let only = failures.first { return "cannot connect to the broker at \(line(only))" }
        return "cannot connect to any of the \(failures.count) brokers: " + failures.map(line).joined(separator: "; ")
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
        if version == .v5 {
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
