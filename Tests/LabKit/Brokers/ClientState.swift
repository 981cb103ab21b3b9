import CMosquitto
import Foundation
import Synchronization

/// Everything the libmosquitto callbacks (on the client's network thread) share with the test
/// thread. It lives in its own object, retained by the mosquitto handle's userdata, so callbacks
/// never touch a TestClient that is half way through deinit.
final class ClientState: Sendable {
    struct Fields {
        var connected = false
        var sessionPresent = false
        var connectCount = 0
        var disconnectCount = 0
        /// Set by the first failure after a `connect()` call: refused CONNACK or a dropped socket.
        var connectFailure: String?
        var lastDisconnectCode: Int32 = 0
        /// Last MOSQ_LOG_ERR line (e.g. "OpenSSL Error[0]: ... certificate verify failed"). A TLS
        /// handshake failing on the network thread is reported only here: no on_disconnect.
        var lastLogError: String?
        /// QoS>0 publish mids still waiting for PUBACK/PUBCOMP.
        var unacked = Set<Int32>()
        /// PUBACKs that arrived before `publish` returned and registered the mid (the network
        /// thread can be faster than the caller).
        var earlyAcks = Set<Int32>()
        /// QoS 0 mids: on_publish fires for them too, but there is nothing to wait for.
        var ignoredAcks = Set<Int32>()
        /// SUBACK results by mid (granted QoS or reason code per filter).
        var subacks: [Int32: [Int32]] = [:]
        /// Mids of subscriptions re-sent automatically after a reconnect (nobody waits for them).
        var autoSubscribeMids = Set<Int32>()
        /// Filters to re-subscribe when a reconnect finds no session on the broker.
        var subscriptions: [(filter: String, qos: Int32)] = []
        var messages: [ReceivedMessage] = []
    }

    let fields = Mutex(Fields())
    let protocolVersion: Int

    init(protocolVersion: Int) { self.protocolVersion = protocolVersion }

    func reasonText(_ code: Int32) -> String {
        protocolVersion == 5 ? String(cString: mosquitto_reason_string(code))
                             : String(cString: mosquitto_connack_string(code))
    }

    // MARK: callbacks, installed by TestClient

    static func from(_ userdata: UnsafeMutableRawPointer?) -> ClientState {
        Unmanaged<ClientState>.fromOpaque(userdata!).takeUnretainedValue()
    }

    static let onConnect: @convention(c) (OpaquePointer?, UnsafeMutableRawPointer?, Int32, Int32, OpaquePointer?) -> Void = {
        mosq, userdata, rc, flags, _ in
        let state = from(userdata)
        guard rc == 0 else {
            let text = "broker refused connection: \(state.reasonText(rc)) (code \(rc))"
            state.fields.withLock { if $0.connectFailure == nil { $0.connectFailure = text } }
            return
        }
        let sessionPresent = flags & 1 == 1
        let resubscribe: [(filter: String, qos: Int32)] = state.fields.withLock {
            $0.connected = true
            $0.sessionPresent = sessionPresent
            $0.connectCount += 1
            return sessionPresent ? [] : $0.subscriptions
        }
        // Without a session on the broker (clean session, or the broker lost it) the
        // subscriptions are gone: send them again, as any real client would.
        for sub in resubscribe {
            var mid: Int32 = 0
            if mosquitto_subscribe_v5(mosq, &mid, sub.filter, sub.qos, 0, nil) == MOSQ_ERR_SUCCESS.rawValue {
                // The SUBACK is handled on this same thread, so it cannot arrive before this insert.
                state.fields.withLock { _ = $0.autoSubscribeMids.insert(mid) }
            }
        }
    }

    static let onDisconnect: @convention(c) (OpaquePointer?, UnsafeMutableRawPointer?, Int32, OpaquePointer?) -> Void = {
        _, userdata, rc, _ in
        let state = from(userdata)
        state.fields.withLock {
            if $0.connected { $0.disconnectCount += 1 }
            $0.connected = false
            $0.lastDisconnectCode = rc
            if $0.connectFailure == nil {
                var text = "connection lost: \(String(cString: mosquitto_strerror(rc))) (rc \(rc))"
                if let log = $0.lastLogError { text += "; last libmosquitto error: \(log)" }
                $0.connectFailure = text
            }
        }
    }

    static let onPublish: @convention(c) (OpaquePointer?, UnsafeMutableRawPointer?, Int32, Int32, OpaquePointer?) -> Void = {
        _, userdata, mid, _, _ in
        from(userdata).fields.withLock {
            if $0.unacked.remove(mid) != nil || $0.ignoredAcks.remove(mid) != nil { return }
            $0.earlyAcks.insert(mid)
        }
    }

    static let onSubscribe: @convention(c) (OpaquePointer?, UnsafeMutableRawPointer?, Int32, Int32, UnsafePointer<Int32>?, OpaquePointer?) -> Void = {
        _, userdata, mid, count, granted, _ in
        let codes = granted.map { Array(UnsafeBufferPointer(start: $0, count: Int(count))) } ?? []
        from(userdata).fields.withLock {
            if $0.autoSubscribeMids.remove(mid) != nil { return }
            $0.subacks[mid] = codes
        }
    }

    static let onMessage: @convention(c) (OpaquePointer?, UnsafeMutableRawPointer?, UnsafePointer<mosquitto_message>?, OpaquePointer?) -> Void = {
        _, userdata, msgPtr, props in
        guard let msg = msgPtr?.pointee else { return }
        let payload: [UInt8] = msg.payloadlen > 0 && msg.payload != nil
            ? Array(UnsafeRawBufferPointer(start: msg.payload, count: Int(msg.payloadlen))) : []
        var responseTopic: String?
        var correlation: [UInt8]?
        if let props {
            var value: UnsafeMutablePointer<CChar>?
            if mosquitto_property_read_string(props, Int32(MQTT_PROP_RESPONSE_TOPIC.rawValue), &value, false) != nil, let value {
                responseTopic = String(cString: value)
                free(value)
            }
            var data: UnsafeMutableRawPointer?
            var len: UInt16 = 0
            if mosquitto_property_read_binary(props, Int32(MQTT_PROP_CORRELATION_DATA.rawValue), &data, &len, false) != nil {
                correlation = data.map { Array(UnsafeRawBufferPointer(start: $0, count: Int(len))) } ?? []
                free(data)
            }
        }
        let received = ReceivedMessage(topic: String(cString: msg.topic), payload: payload, qos: Int(msg.qos),
                                       retain: msg.retain, responseTopic: responseTopic,
                                       correlationData: correlation, receivedAt: .now)
        from(userdata).fields.withLock { $0.messages.append(received) }
    }

    static let onLog: @convention(c) (OpaquePointer?, UnsafeMutableRawPointer?, Int32, UnsafePointer<CChar>?) -> Void = {
        _, userdata, level, text in
        guard let text, level & MOSQ_LOG_ERR != 0 else { return }
        let line = String(cString: text)
        from(userdata).fields.withLock { $0.lastLogError = line }
    }
}
