import CMosquitto
import Foundation
import Synchronization

/// A plain MQTT client for tests and benchmarks, on libmosquitto with its own network thread
/// (`mosquitto_loop_start`). Every method is callable from any thread.
public final class TestClient: Sendable {
    public struct TLS: Sendable {
        public var caFile: String
        public var certFile: String?
        public var keyFile: String?
        /// Skip the host-name check (the chain is still verified against `caFile`).
        public var insecure: Bool
        public init(caFile: String, certFile: String? = nil, keyFile: String? = nil, insecure: Bool = false) {
            self.caFile = caFile; self.certFile = certFile; self.keyFile = keyFile; self.insecure = insecure
        }
    }

    /// The `struct mosquitto *`. libmosquitto guards a handle with its own mutexes once
    /// loop_start runs, so publish/subscribe/disconnect from any thread is supported by the
    /// library; the pointer itself never changes and is freed only in deinit, after the network
    /// thread was joined. That is why this wrapper may be `@unchecked Sendable`.
    private struct Handle: @unchecked Sendable { let mosq: OpaquePointer }

    public let clientID: String
    public let cleanSession: Bool
    public let protocolVersion: Int
    /// MQTT 5 Session Expiry Interval sent when `cleanSession` is false (a v5 session without it
    /// ends with the connection).
    public let sessionExpiry: UInt32
    public let keepalive: Int
    private let handle: Handle
    private let state: ClientState
    private let loopRunning = Mutex(false)

    private static let libraryInit: Void = { _ = mosquitto_lib_init() }()

    /// - protocolVersion: 5 or 311.
    /// - maxInflight: 0 = unlimited on our side (an MQTT 5 broker's Receive Maximum still applies).
    public init(clientID: String? = nil, cleanSession: Bool = true, protocolVersion: Int = 5,
                maxInflight: Int = 0, sessionExpiry: UInt32 = 3600, keepalive: Int = 30,
                tls: TLS? = nil) throws {
        _ = TestClient.libraryInit
        precondition(protocolVersion == 5 || protocolVersion == 311, "protocolVersion must be 5 or 311")
        let id = clientID ?? "labkit-" + String(UInt64.random(in: 0...UInt64.max), radix: 36)
        self.clientID = id
        self.cleanSession = cleanSession
        self.protocolVersion = protocolVersion
        self.sessionExpiry = sessionExpiry
        self.keepalive = keepalive
        let state = ClientState(protocolVersion: protocolVersion)
        self.state = state
        // The handle keeps one retain on the state; balanced in deinit after the thread is gone.
        let userdata = Unmanaged.passRetained(state).toOpaque()
        guard let mosq = mosquitto_new(id, cleanSession, userdata) else {
            Unmanaged<ClientState>.fromOpaque(userdata).release()
            throw LabError("mosquitto_new(\(id)) failed: \(String(cString: strerror(errno)))")
        }
        handle = Handle(mosq: mosq)
        mosquitto_int_option(mosq, MOSQ_OPT_TCP_NODELAY, 1)
        mosquitto_int_option(mosq, MOSQ_OPT_PROTOCOL_VERSION,
                             protocolVersion == 5 ? MQTT_PROTOCOL_V5 : MQTT_PROTOCOL_V311)
        mosquitto_max_inflight_messages_set(mosq, UInt32(maxInflight))
        // Whole seconds only: 0.2 s is not expressible, and 0 would retry in a tight loop.
        // Linear 1 s, 2 s, 2 s, ... keeps restarts in tests short.
        mosquitto_reconnect_delay_set(mosq, 1, 2, false)
        mosquitto_connect_v5_callback_set(mosq, ClientState.onConnect)
        mosquitto_disconnect_v5_callback_set(mosq, ClientState.onDisconnect)
        mosquitto_publish_v5_callback_set(mosq, ClientState.onPublish)
        mosquitto_subscribe_v5_callback_set(mosq, ClientState.onSubscribe)
        mosquitto_message_v5_callback_set(mosq, ClientState.onMessage)
        mosquitto_log_callback_set(mosq, ClientState.onLog)
        if let tls {
            let rc = mosquitto_tls_set(mosq, tls.caFile, nil, tls.certFile, tls.keyFile, nil)
            guard rc == MOSQ_ERR_SUCCESS.rawValue else {
                throw LabError("mosquitto_tls_set: \(TestClient.errorText(rc))")
            }
            if tls.insecure { mosquitto_tls_insecure_set(mosq, true) }
        }
    }

    deinit {
        disconnect()
        mosquitto_destroy(handle.mosq)
        Unmanaged.passUnretained(state).release()
    }

    // MARK: connection

    public var isConnected: Bool { state.fields.withLock { $0.connected } }
    /// CONNACKs with success so far (1 after connect, +1 per automatic reconnect).
    public var connectCount: Int { state.fields.withLock { $0.connectCount } }
    /// Connections lost or closed after having been established.
    public var disconnectCount: Int { state.fields.withLock { $0.disconnectCount } }
    /// Session Present flag of the last successful CONNACK.
    public var sessionPresent: Bool { state.fields.withLock { $0.sessionPresent } }

    /// Username and password sent with every later CONNECT (nil password: username only).
    public func setCredentials(username: String, password: String?) {
        mosquitto_username_pw_set(handle.mosq, username, password)
    }

    /// Connects and waits for a successful CONNACK. Afterwards the network thread reconnects by
    /// itself when the connection drops, and re-subscribes if the broker kept no session.
    public func connect(host: String = "127.0.0.1", port: Int, timeout: Double = 10) throws {
        let acceptedBefore = state.fields.withLock { f in
            f.connectFailure = nil
            f.lastLogError = nil
            return f.connectCount
        }
        var props: OpaquePointer?
        defer { mosquitto_property_free_all(&props) }
        if protocolVersion == 5 && !cleanSession {
            mosquitto_property_add_int32(&props, Int32(MQTT_PROP_SESSION_EXPIRY_INTERVAL.rawValue), sessionExpiry)
        }
        // Blocking TCP connect: "connection refused" is reported right here.
        let rc = mosquitto_connect_bind_v5(handle.mosq, host, Int32(port), Int32(keepalive), nil, props)
        guard rc == MOSQ_ERR_SUCCESS.rawValue else {
            var text = "connect to \(host):\(port) failed: \(TestClient.errorText(rc))"
            if let log = state.fields.withLock({ $0.lastLogError }) { text += "; \(log)" }
            throw LabError(text)
        }
        try loopRunning.withLock { running in
            if !running {
                let rc = mosquitto_loop_start(handle.mosq)
                guard rc == MOSQ_ERR_SUCCESS.rawValue else { throw LabError("mosquitto_loop_start: \(TestClient.errorText(rc))") }
                running = true
            }
        }
        // Connected once the broker accepted us, even if the connection is gone again by the time
        // this looks (a twin of a daemon is kicked back within milliseconds; its network thread
        // reconnects, as any client's would): a loss after the CONNACK is not a failed connect.
        var failure: String?
        let done = waitUntil(timeout: timeout) {
            state.fields.withLock { f in
                if f.connected || f.connectCount > acceptedBefore { failure = nil; return true }
                failure = f.connectFailure ?? f.lastLogError.map { "libmosquitto: \($0)" }
                return failure != nil
            }
        }
        if done && failure == nil { return }
        // Stop the network thread: otherwise it would keep retrying a connection nobody wants.
        disconnect()
        throw LabError("MQTT connect to \(host):\(port) as \(clientID) failed: "
            + (failure ?? "no CONNACK within \(timeout) s"))
    }

    /// Sends DISCONNECT (clean: no will, v5 session kept per its expiry) and joins the network thread.
    public func disconnect() {
        loopRunning.withLock { running in
            guard running else { return }
            mosquitto_disconnect_v5(handle.mosq, 0, nil)
            mosquitto_loop_stop(handle.mosq, false)
            running = false
        }
        state.fields.withLock { if $0.connected { $0.disconnectCount += 1 }; $0.connected = false }
    }

    // MARK: subscribe

    /// Subscribes and waits for the SUBACK; throws if the broker refused the filter.
    /// - retainAsPublished: MQTT 5 "Retain As Published": the broker forwards each message with the
    ///   retain flag its publisher set, instead of clearing it for an established subscription, so a
    ///   test can tell a retained publication from a plain one (not kept for automatic re-subscribes).
    public func subscribe(_ filter: String, qos: Int = 1, retainAsPublished: Bool = false, timeout: Double = 10) throws {
        var mid: Int32 = 0
        let options = retainAsPublished ? Int32(MQTT_SUB_OPT_RETAIN_AS_PUBLISHED.rawValue) : 0
        let rc = mosquitto_subscribe_v5(handle.mosq, &mid, filter, Int32(qos), options, nil)
        guard rc == MOSQ_ERR_SUCCESS.rawValue else {
            throw LabError("subscribe \(filter): \(TestClient.errorText(rc))")
        }
        state.fields.withLock { f in
            f.subscriptions.removeAll { $0.filter == filter }
            f.subscriptions.append((filter, Int32(qos)))
        }
        var codes: [Int32]?
        guard waitUntil(timeout: timeout, { codes = state.fields.withLock { $0.subacks.removeValue(forKey: mid) }; return codes != nil }),
              let codes else {
            throw LabError("no SUBACK for \(filter) within \(timeout) s")
        }
        if let bad = codes.first(where: { $0 >= 0x80 }) {
            throw LabError("subscribe \(filter) refused: \(state.reasonText(bad)) (0x\(String(bad, radix: 16)))")
        }
    }

    // MARK: publish

    /// Publishes and returns the message id. QoS>0 messages are queued by libmosquitto while
    /// disconnected and (re)sent after the next CONNACK; `waitForAcks` covers them.
    @discardableResult
    public func publish(topic: String, payload: [UInt8], qos: Int = 1, retain: Bool = false,
                        responseTopic: String? = nil, correlationData: [UInt8]? = nil) throws -> Int32 {
        var props: OpaquePointer?
        defer { mosquitto_property_free_all(&props) }
        if responseTopic != nil || correlationData != nil {
            guard protocolVersion == 5 else { throw LabError("responseTopic/correlationData need MQTT 5") }
            if let responseTopic {
                mosquitto_property_add_string(&props, Int32(MQTT_PROP_RESPONSE_TOPIC.rawValue), responseTopic)
            }
            if let correlationData {
                correlationData.withUnsafeBytes { raw in
                    _ = mosquitto_property_add_binary(&props, Int32(MQTT_PROP_CORRELATION_DATA.rawValue),
                                                      raw.baseAddress, UInt16(raw.count))
                }
            }
        }
        var mid: Int32 = 0
        let rc = payload.withUnsafeBytes { raw in
            mosquitto_publish_v5(handle.mosq, &mid, topic, Int32(raw.count), raw.baseAddress, Int32(qos), retain, props)
        }
        // Trap: for QoS>0 while the socket is down, libmosquitto queues the message AND returns
        // MOSQ_ERR_NO_CONN; it is still sent after reconnecting, so it counts as published.
        let queued = rc == MOSQ_ERR_SUCCESS.rawValue || (qos > 0 && rc == MOSQ_ERR_NO_CONN.rawValue)
        guard queued else { throw LabError("publish \(topic): \(TestClient.errorText(rc))") }
        state.fields.withLock { f in
            if f.earlyAcks.remove(mid) != nil { return }
            if qos > 0 { f.unacked.insert(mid) } else if rc == MOSQ_ERR_SUCCESS.rawValue { f.ignoredAcks.insert(mid) }
        }
        return mid
    }

    @discardableResult
    public func publish(topic: String, payload: String, qos: Int = 1, retain: Bool = false,
                        responseTopic: String? = nil, correlationData: [UInt8]? = nil) throws -> Int32 {
        try publish(topic: topic, payload: Array(payload.utf8), qos: qos, retain: retain,
                    responseTopic: responseTopic, correlationData: correlationData)
    }

    /// Number of QoS>0 publishes not yet acknowledged by the broker.
    public var unackedCount: Int { state.fields.withLock { $0.unacked.count } }

    /// Waits until every QoS>0 publish so far was acknowledged, across reconnects (libmosquitto
    /// resends unacknowledged messages after the next CONNACK).
    public func waitForAcks(timeout: Double = 30) throws {
        guard waitUntil(timeout: timeout, { unackedCount == 0 }) else {
            throw LabError("\(unackedCount) publishes still unacknowledged after \(timeout) s (connected: \(isConnected))")
        }
    }

    /// Publish, then wait for its acknowledgement (and any earlier ones).
    public func publishAndWait(topic: String, payload: String, qos: Int = 1, retain: Bool = false,
                               responseTopic: String? = nil, correlationData: [UInt8]? = nil,
                               timeout: Double = 10) throws {
        try publishAndWait(topic: topic, payload: Array(payload.utf8), qos: qos, retain: retain,
                           responseTopic: responseTopic, correlationData: correlationData, timeout: timeout)
    }

    public func publishAndWait(topic: String, payload: [UInt8], qos: Int = 1, retain: Bool = false,
                               responseTopic: String? = nil, correlationData: [UInt8]? = nil,
                               timeout: Double = 10) throws {
        try publish(topic: topic, payload: payload, qos: qos, retain: retain,
                    responseTopic: responseTopic, correlationData: correlationData)
        try waitForAcks(timeout: timeout)
    }

    // MARK: received messages

    /// Messages received so far (in arrival order), optionally only those matching `filter`.
    public func messages(on filter: String? = nil) -> [ReceivedMessage] {
        let all = state.fields.withLock { $0.messages }
        guard let filter else { return all }
        return all.filter { TestClient.topic($0.topic, matches: filter) }
    }

    /// First message (already received or arriving within `timeout`) on `filter` satisfying `where`.
    /// Earlier messages count too: call `clearMessages()` first to wait for a new one.
    public func waitFor(_ filter: String, timeout: Double = 10,
                        where predicate: (ReceivedMessage) -> Bool = { _ in true }) throws -> ReceivedMessage {
        var found: ReceivedMessage?
        guard waitUntil(timeout: timeout, { found = messages(on: filter).first(where: predicate); return found != nil }),
              let found else {
            throw LabError("no matching message on \(filter) within \(timeout) s (\(messages(on: filter).count) on the filter)")
        }
        return found
    }

    /// Waits until at least `count` messages matched `filter`; returns them.
    @discardableResult
    public func waitForCount(_ filter: String, count: Int, timeout: Double = 10) throws -> [ReceivedMessage] {
        var got: [ReceivedMessage] = []
        guard waitUntil(timeout: timeout, { got = messages(on: filter); return got.count >= count }) else {
            throw LabError("only \(got.count) of \(count) messages on \(filter) within \(timeout) s")
        }
        return got
    }

    public func clearMessages() { state.fields.withLock { $0.messages.removeAll() } }

    // MARK: helpers

    /// MQTT topic-filter matching (`+`, `#`) as the broker does it.
    public static func topic(_ topic: String, matches filter: String) -> Bool {
        var result = false
        return mosquitto_topic_matches_sub(filter, topic, &result) == MOSQ_ERR_SUCCESS.rawValue && result
    }

    static func errorText(_ rc: Int32) -> String {
        // For MOSQ_ERR_ERRNO, mosquitto_strerror already returns strerror(errno).
        String(cString: mosquitto_strerror(rc)) + " (rc \(rc))"
    }
}
